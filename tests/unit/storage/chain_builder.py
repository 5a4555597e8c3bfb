"""Real signed blocks for storage tests: transactions, receipts, state changes and certificates.

Blocks are built the way the node builds them: the header's transactions root
from ``compute_transactions_root``, its state root from the parent's state tree
(ledger/state_tree.py) and the block's changes, and a certificate of COMMIT votes from three of four
validators, each signed over ``compute_commit_payload``.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Sequence

from ledger.block import Block, BlockHeader, compute_transactions_root
from ledger.certificate import CommitCertificate, Vote, compute_commit_payload
from ledger.hashing import Domain, compute_hash
from ledger.keys import PrivateKey
from ledger.receipt import Event, Receipt, compute_receipts_root
from ledger.state_tree import StateTree
from ledger.transaction import Transaction
from ledger.types import Hash, Height, TimestampMs, ValidatorIndex, View
from storage.block_commit import CommittedBlock

CHAIN_ID = "hubledger-storage-test"
VALIDATOR_COUNT = 4
QUORUM = 3
GENESIS_HASH = compute_hash(Domain.GENESIS, b"storage test genesis")
OTHER_GENESIS_HASH = compute_hash(Domain.GENESIS, b"another chain's genesis")
GENESIS_CHANGES: tuple[tuple[bytes, bytes], ...] = (
    (b"account/alice", b"1000"),
    (b"account/bob", b"500"),
    (b"config/fee", b"1"),
)
GENESIS_ROOT = StateTree(GENESIS_CHANGES).root
StateChanges = Sequence[tuple[bytes, bytes | None]]


@functools.cache
def get_validator_keys() -> tuple[PrivateKey, ...]:
    return tuple(PrivateKey.generate() for _ in range(VALIDATOR_COUNT))


@functools.cache
def get_sender_key() -> PrivateKey:
    return PrivateKey.generate()


def make_transactions(first_nonce: int, count: int) -> tuple[Transaction, ...]:
    return tuple(
        Transaction.create(
            get_sender_key(),
            chain_id=CHAIN_ID,
            nonce=nonce,
            contract="cbdc",
            method="transfer",
            args={"to": "bob", "amount": nonce + 1},
        )
        for nonce in range(first_nonce, first_nonce + count)
    )


def make_receipts(transactions: Sequence[Transaction]) -> tuple[Receipt, ...]:
    # Every third transaction fails, so both kinds of receipt are stored and read back.
    return tuple(
        Receipt(success=False, code="INSUFFICIENT_FUNDS", message="the sender cannot pay")
        if transaction.nonce % 3 == 2
        else Receipt(success=True, events=(Event("Transfer", {"amount": transaction.args["amount"]}),))
        for transaction in transactions
    )


def make_certificate(
    block: Block, *, view: int = 0, validator_keys: Sequence[PrivateKey] | None = None
) -> CommitCertificate:
    payload = compute_commit_payload(CHAIN_ID, View(view), block.height, block.hash)
    keys = get_validator_keys() if validator_keys is None else validator_keys
    votes = tuple(Vote(ValidatorIndex(index), key.sign(payload)) for index, key in enumerate(keys[:QUORUM]))
    return CommitCertificate(block.height, View(view), block.hash, votes)


def make_block(
    *,
    height: int,
    previous_hash: Hash,
    previous_state: StateTree,
    transactions: tuple[Transaction, ...],
    changes: StateChanges,
    view: int = 0,
    validator_keys: Sequence[PrivateKey] | None = None,
) -> CommittedBlock:
    receipts = make_receipts(transactions)
    header = BlockHeader(
        chain_id=CHAIN_ID,
        height=Height(height),
        previous_hash=previous_hash,
        view=View(view),
        timestamp_ms=TimestampMs(1_700_000_000_000 + height * 1000),
        proposer=ValidatorIndex(view % VALIDATOR_COUNT),
        transactions_root=compute_transactions_root(transactions),
        transaction_count=len(transactions),
        receipts_root=compute_receipts_root(receipts),
        state_root=previous_state.preview(changes),
    )
    block = Block(header, transactions)
    certificate = make_certificate(block, view=view, validator_keys=validator_keys)
    return CommittedBlock(block, certificate, receipts, tuple(changes))


class ChainBuilder:
    """Builds the next block on top of the last one it was told was committed."""

    def __init__(
        self,
        *,
        genesis_hash: Hash = GENESIS_HASH,
        genesis_changes: StateChanges = GENESIS_CHANGES,
        validator_keys: Sequence[PrivateKey] | None = None,
    ) -> None:
        self.height = 0
        self.previous_hash = genesis_hash
        self.state = StateTree((key, value) for key, value in genesis_changes if value is not None)
        self.next_nonce = 0
        self.validator_keys = validator_keys

    def build(self, *, transaction_count: int = 3, changes: StateChanges | None = None) -> CommittedBlock:
        """The block at the next height (the builder does not advance until ``advance``)."""
        height = self.height + 1
        if changes is None:
            changes = [(b"height", height.to_bytes(8, "big")), (b"block/%d" % height, b"value %d" % height)]
        return make_block(
            height=height,
            previous_hash=self.previous_hash,
            previous_state=self.state,
            transactions=make_transactions(self.next_nonce, transaction_count),
            changes=changes,
            validator_keys=self.validator_keys,
        )

    def advance(self, committed: CommittedBlock) -> CommittedBlock:
        self.state.apply(committed.changes)
        self._follow(committed.block)
        return committed

    def resume(self, block: Block, state: Iterable[tuple[bytes, bytes]]) -> None:
        """Build on top of ``block``, whose state is ``state``, from now on (for example the
        latest block of a reopened store)."""
        self.state = StateTree(state)
        self._follow(block)

    def _follow(self, block: Block) -> None:
        self.height = block.height
        self.previous_hash = block.hash
        if block.transactions:
            self.next_nonce = block.transactions[-1].nonce + 1
