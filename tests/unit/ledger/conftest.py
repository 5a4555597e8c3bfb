"""Keys and small, valid ledger objects shared by the ledger tests."""

from __future__ import annotations

import functools

from ledger.keys import PrivateKey

CHAIN_ID = "hubledger-test"


@functools.cache
def get_key(secret: int) -> PrivateKey:
    """Deterministic keys: deriving one is cheap, and a failing test names its secret."""
    return PrivateKey.from_secret(secret)
