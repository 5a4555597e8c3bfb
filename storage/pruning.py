"""What pruning a block removes, and what it keeps.

A pruned block keeps its header (moved under its own key, so the block record's
absence says "no body") and its commit certificate, so the chain of headers still
verifies from genesis; it loses its transactions, their receipts and its undo record.
Each transaction's location stays, so a committed transaction is still refused when
submitted again, and a question about it is answered BLOCK_PRUNED, not "unknown".
"""

from __future__ import annotations

from ledger import cbor
from ledger.block import Block, BlockHeader
from ledger.limits import BLOCK_BYTES_MAX
from storage import schema
from storage.kv import WriteBatch


def add_pruning(batch: WriteBatch, block: Block) -> None:
    batch.put(schema.pruned_header_key(block.height), cbor.encode(block.header.to_cbor_map()))
    batch.delete(schema.block_key(block.height))
    batch.delete(schema.undo_key(block.height))
    for transaction in block.transactions:
        batch.delete(schema.receipt_key(transaction.id))


def decode_header(data: bytes) -> BlockHeader:
    return BlockHeader.from_cbor_map(cbor.decode(data, bytes_max=BLOCK_BYTES_MAX))
