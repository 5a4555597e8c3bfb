"""Keys and small, valid ledger objects shared by the ledger tests (imported, not a conftest)."""

from __future__ import annotations

import functools
from typing import Any

from ledger.block import Block, BlockHeader, compute_transactions_root
from ledger.certificate import CommitCertificate, Vote, compute_commit_payload
from ledger.keys import CURVE_ORDER, PrivateKey
from ledger.receipt import compute_receipts_root
from ledger.transaction import Transaction
from ledger.types import Hash, Height, TimestampMs, ValidatorIndex, View

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


def make_block(transactions: tuple[Transaction, ...] = (), *, height: int = 1, view: int = 0) -> Block:
    header = BlockHeader(
        chain_id=CHAIN_ID,
        height=Height(height),
        previous_hash=Hash(b"\x11" * 32),
        view=View(view),
        timestamp_ms=TimestampMs(1_700_000_000_000),
        proposer=ValidatorIndex(view % 4),
        transactions_root=compute_transactions_root(transactions),
        transaction_count=len(transactions),
        receipts_root=compute_receipts_root(()),
        state_root=Hash(b"\x22" * 32),
    )
    return Block(header, transactions)


def get_validator_keys(count: int = 4) -> tuple[bytes, ...]:
    return tuple(get_key(100 + index + 1).public_key.data for index in range(count))


def make_vote(index: int, block: Block, *, view: int | None = None, chain_id: str = CHAIN_ID) -> Vote:
    payload = compute_commit_payload(
        chain_id, View(block.header.view if view is None else view), block.height, block.hash
    )
    return Vote(ValidatorIndex(index), get_key(100 + index + 1).sign(payload))


def make_certificate(block: Block, voters: tuple[int, ...] = (0, 1, 2)) -> CommitCertificate:
    return CommitCertificate(
        height=block.height,
        view=block.header.view,
        block_hash=block.hash,
        votes=tuple(make_vote(index, block) for index in voters),
    )
