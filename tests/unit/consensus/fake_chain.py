"""The chain the consensus unit tests run: its id and genesis, keys, transactions,
replica settings, and a fake application that executes nothing but a hash chain."""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Sequence
from typing import Any

from consensus.application import InvalidBlock
from consensus.config import ReplicaConfig
from ledger.block import Block, BlockHeader, compute_transactions_root
from ledger.keys import PrivateKey
from ledger.receipt import compute_receipts_root
from ledger.transaction import Transaction
from ledger.types import Hash, Height, TimestampMs, ValidatorIndex, View

CHAIN_ID = "hubledger-consensus-test"
GENESIS_HASH = Hash(hashlib.sha256(b"genesis").digest())
GENESIS_TIME_MS = TimestampMs(1_000_000)


@functools.cache
def get_key(secret: int) -> PrivateKey:
    return PrivateKey.from_secret(secret)


@functools.cache
def make_transaction(nonce: int, *, admissible: bool = True) -> Transaction:
    return Transaction.create(
        get_key(7),
        chain_id=CHAIN_ID,
        nonce=nonce,
        contract="cbdc",
        method="transfer",
        args={"amount": nonce, "admissible": admissible},
    )


def make_transactions(first: int, count: int) -> list[Transaction]:
    return [make_transaction(nonce) for nonce in range(first, first + count)]


def make_config(n: int, index: int, **overrides: Any) -> ReplicaConfig:
    keys = tuple(get_key(100 + i).public_key.data for i in range(n))
    settings: dict[str, Any] = {"batch_delay_ms": 5, "view_timeout_ms": 500, "request_timeout_ms": 1000}
    settings.update(overrides)
    return ReplicaConfig(chain_id=CHAIN_ID, validator_keys=keys, self_index=ValidatorIndex(index), **settings)


class FakeApplication:
    """The state digest is a hash chain of transaction ids; a transaction whose args
    say ``admissible: False`` is left out by build_block and refused by validate_block,
    and one whose args say ``needs: N`` is until ``make_transaction(N)`` was executed."""

    def __init__(self) -> None:
        self.digests: dict[Hash, Hash] = {GENESIS_HASH: Hash(hashlib.sha256(b"state").digest())}
        self.executed: dict[Hash, frozenset[Hash]] = {GENESIS_HASH: frozenset()}  # replay protection
        self.validated: list[Hash] = []
        self.committed_ids: set[Hash] = set()

    def compute_digest(self, previous_hash: Hash, transactions: Sequence[Transaction]) -> Hash:
        parent = self.digests.get(previous_hash)
        if parent is None:
            raise InvalidBlock("parent block is neither committed nor proposed")
        hasher = hashlib.sha256(parent)
        for transaction in transactions:
            hasher.update(transaction.id)
        return Hash(hasher.digest())

    def is_admissible(self, transaction: Transaction, previous_hash: Hash) -> bool:
        executed = self.executed.get(previous_hash, frozenset())
        needs = transaction.args.get("needs")  # as a nonce gap: admissible after that transaction
        if isinstance(needs, int) and make_transaction(needs).id not in executed:
            return False
        return bool(transaction.args.get("admissible", True)) and transaction.id not in executed

    def record(self, block: Block) -> None:
        executed = self.executed.get(block.header.previous_hash, frozenset())
        self.executed[block.hash] = executed | {tx.id for tx in block.transactions}
        self.digests[block.hash] = block.header.state_root

    def build_block(
        self,
        *,
        previous_hash: Hash,
        height: Height,
        view: View,
        proposer: ValidatorIndex,
        timestamp_ms: TimestampMs,
        transactions: Sequence[Transaction],
    ) -> Block:
        included: list[Transaction] = []
        for tx in transactions:
            if self.is_admissible(tx, previous_hash) and tx not in included:
                included.append(tx)
        header = BlockHeader(
            chain_id=CHAIN_ID,
            height=height,
            previous_hash=previous_hash,
            view=view,
            timestamp_ms=timestamp_ms,
            proposer=proposer,
            transactions_root=compute_transactions_root(tuple(included)),
            transaction_count=len(included),
            receipts_root=compute_receipts_root(()),  # the fake application keeps no receipts
            state_root=self.compute_digest(previous_hash, included),
        )
        block = Block(header, tuple(included))
        self.record(block)
        return block

    def validate_block(self, block: Block) -> None:
        previous_hash = block.header.previous_hash
        if len({tx.id for tx in block.transactions}) != len(block.transactions) or not all(
            self.is_admissible(tx, previous_hash) for tx in block.transactions
        ):
            raise InvalidBlock("block holds an inadmissible or replayed transaction")
        if self.compute_digest(previous_hash, block.transactions) != block.header.state_root:
            raise InvalidBlock("state root differs")
        self.record(block)
        self.validated.append(block.hash)

    def commit(self, block: Block) -> None:
        if block.hash not in self.digests:  # fetched: execute on the committed parent
            self.validate_block(block)
        self.committed_ids.update(tx.id for tx in block.transactions)

    def is_committed(self, transaction_id: Hash) -> bool:
        return transaction_id in self.committed_ids
