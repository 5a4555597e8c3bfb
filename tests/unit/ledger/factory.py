"""Keys and small, valid ledger objects shared by the ledger tests (imported, not a conftest)."""

from __future__ import annotations

import functools
from typing import Any

from ledger.keys import CURVE_ORDER, PrivateKey
from ledger.transaction import Transaction

CHAIN_ID = "hubledger-test"


@functools.cache
def get_key(secret: int) -> PrivateKey:
    """Deterministic keys: deriving one is cheap, and a failing test names its secret."""
    return PrivateKey.from_secret(secret)


def make_transaction(
    secret: int = 1, *, nonce: int = 0, args: dict[str, Any] | None = None, chain_id: str = CHAIN_ID
) -> Transaction:
    return Transaction.create(
        get_key(secret),
        chain_id=chain_id,
        nonce=nonce,
        contract="cbdc",
        method="transfer",
        args={"to": "ab" * 20, "amount": 2500, "memo": "invoice 7"} if args is None else args,
    )


def flip_to_high_s(signature: bytes) -> bytes:
    s = int.from_bytes(signature[32:], "big")
    return signature[:32] + (CURVE_ORDER - s).to_bytes(32, "big")
