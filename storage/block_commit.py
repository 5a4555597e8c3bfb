"""Checking that a block may be committed on top of the chain, and the records it adds.

``ChainStore.commit_blocks`` runs these for each block of one write batch: the block
must extend the tip, and everything handed over with it must belong to it, down to the
state changes producing the header's state root.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from ledger.block import Block
from ledger.certificate import CommitCertificate
from ledger.errors import LedgerError
from ledger.receipt import Receipt, compute_receipts_root
from ledger.state_tree import StateTreeBase, StateTreeOverlay
from ledger.types import Hash, Height
from storage import schema
from storage.errors import BlockMismatch, HeightConflict
from storage.kv import KeyValueStore, WriteBatch


@dataclass(frozen=True, slots=True)
class CommittedBlock:
    """A block with its certificate and everything executing it produced: what is stored."""

    block: Block
    certificate: CommitCertificate
    receipts: Sequence[Receipt]
    changes: Sequence[tuple[bytes, bytes | None]]
    # The state tree after the block, when the caller already built it from these very changes
    # over its parent's tree (node/application.py, to vote): then only its root is checked here.
    tree: StateTreeOverlay | None = None


@dataclass(frozen=True, slots=True)
class Tip:
    """The latest block so far of a commit: what the next block must extend."""

    height: Height
    hash: Hash
    tree: StateTreeBase | StateTreeOverlay


def add_block(batch: WriteBatch, committed: CommittedBlock) -> None:
    block = committed.block
    batch.put(schema.block_key(block.height), block.encode())
    batch.put(schema.block_hash_key(block.hash), schema.encode_height(block.height))
    batch.put(schema.certificate_key(block.height), committed.certificate.encode())
    for index, (transaction, receipt) in enumerate(zip(block.transactions, committed.receipts, strict=True)):
        location = schema.encode_location(block.height, index)
        batch.put(schema.transaction_location_key(transaction.id), location)
        batch.put(schema.receipt_key(transaction.id), receipt.encode())
    for key, value in committed.changes:
        if value is None:
            batch.delete(schema.state_key(key))
        else:
            batch.put(schema.state_key(key), value)


def validate_extends(block: Block, tip: Tip) -> None:
    if block.height != tip.height + 1:
        raise HeightConflict(f"block at height {block.height} cannot follow the latest block at {tip.height}")
    if block.header.previous_hash != tip.hash:
        raise HeightConflict(
            f"block {block.height} names parent {block.header.previous_hash.hex()}, "
            f"but the block at {tip.height} is {tip.hash.hex()}"
        )


def validate_belongs(
    kv: KeyValueStore, committed: CommittedBlock, parent: StateTreeBase | StateTreeOverlay, pending: set[Hash]
) -> StateTreeOverlay:
    """Raise BlockMismatch unless the certificate, receipts, transactions and state changes
    belong to the block; returns the state tree after the block, stacked on ``parent``."""
    block, certificate, receipts = committed.block, committed.certificate, committed.receipts
    if certificate.height != block.height or certificate.block_hash != block.hash:
        raise BlockMismatch(f"the certificate is not for block {block.hash.hex()} at height {block.height}")
    if len(receipts) != len(block.transactions):
        raise BlockMismatch(
            f"block {block.height} has {len(block.transactions)} transactions but {len(receipts)} receipts"
        )
    if compute_receipts_root(receipts) != block.header.receipts_root:
        raise BlockMismatch(f"the receipts of block {block.height} do not produce its receipts_root")
    try:
        block.validate_body()
    except LedgerError as error:
        raise BlockMismatch(f"block {block.height}: {error.message}") from None
    transaction_ids = {transaction.id for transaction in block.transactions}
    if len(transaction_ids) != len(block.transactions) or any(
        transaction_id in pending or kv.get(schema.transaction_location_key(transaction_id)) is not None
        for transaction_id in transaction_ids
    ):
        raise BlockMismatch(
            f"block {block.height} holds a transaction that is repeated or already committed",
            code="DUPLICATE_TRANSACTION",
        )
    tree = committed.tree
    if tree is None:
        tree = StateTreeOverlay(parent)
        tree.apply(committed.changes)
    if tree.root != block.header.state_root:
        raise BlockMismatch(f"the state changes of block {block.height} do not produce its state root")
    return tree
