"""Pruning keeps headers, certificates and what proves the chain; it drops bodies, receipts
and undo records, and the state of the first kept block can still be rebuilt."""

from __future__ import annotations

import pytest

from ledger.types import Height
from storage import schema
from storage.block_commit import CommittedBlock
from storage.chain import ChainStore
from storage.errors import BlockPruned, StorageError
from storage.history import iterate_state_at
from storage.kv import KeyValueStore, MemoryStore
from tests.unit.storage.chain_builder import GENESIS_CHANGES, GENESIS_HASH, ChainBuilder

BLOCKS = 12


def build_chain(
    store: KeyValueStore, builder: ChainBuilder, *, keep_undo: bool = True
) -> tuple[ChainStore, list[CommittedBlock], list[dict[bytes, bytes]]]:
    """A chain of BLOCKS blocks writing, deleting and rewriting keys, and the state after each."""
    chain = ChainStore(store, keep_undo=keep_undo)
    chain.initialize(GENESIS_HASH, GENESIS_CHANGES)
    states = [dict(GENESIS_CHANGES)]
    blocks = []
    for height in range(1, BLOCKS + 1):
        changes: list[tuple[bytes, bytes | None]] = [
            (b"height", b"%d" % height),
            (b"block/%d" % height, b"x"),
        ]
        if height % 3 == 0:
            changes.append((b"block/%d" % (height - 1), None))  # a key deleted
        if height == 5:
            changes.append((b"account/alice", None))  # a genesis key deleted, then restored at 6
        if height == 6:
            changes.append((b"account/alice", b"999"))
        committed = builder.build(changes=changes)
        chain.commit_block(committed.block, committed.certificate, committed.receipts, committed.changes)
        blocks.append(builder.advance(committed))
        state = dict(states[-1])
        for key, value in changes:
            if value is None:
                state.pop(key, None)
            else:
                state[key] = value
        states.append(state)
    return chain, blocks, states


def test_a_pruned_block_keeps_its_header_and_certificate_only(
    store: KeyValueStore, builder: ChainBuilder
) -> None:
    chain, blocks, _ = build_chain(store, builder)
    assert chain.prune_below(8, blocks_max=100) == 7
    assert chain.first_block_height() == 8
    for committed in blocks[:7]:
        height = committed.block.height
        assert chain.get_block(height) is None and chain.get_encoded_certified_block(height) is None
        assert chain.get_header(height) == committed.block.header
        assert chain.get_certificate(height) == committed.certificate
        transaction = committed.block.transactions[0]
        assert chain.has_transaction(transaction.id)  # a resubmission is still refused
        with pytest.raises(BlockPruned) as pruned:
            chain.get_transaction(transaction.id)
        assert pruned.value.code == "BLOCK_PRUNED" and pruned.value.height == height
        assert store.get(schema.receipt_key(transaction.id)) is None
        assert store.get(schema.undo_key(height)) is None
    for committed in blocks[7:]:
        assert chain.get_block(committed.block.height) == committed.block
    assert ChainStore(store).get_header(Height(3)) == blocks[2].block.header  # as stored, not cached
    with pytest.raises(BlockPruned):  # not mistaken for a broken hash index
        chain.get_block_by_hash(blocks[2].block.hash)


def test_pruning_goes_a_few_blocks_at_a_time_and_never_prunes_the_latest(
    store: KeyValueStore, builder: ChainBuilder
) -> None:
    chain, blocks, _ = build_chain(store, builder)
    assert chain.prune_below(BLOCKS + 5, blocks_max=4) == 4
    assert chain.first_block_height() == 5
    while chain.prune_below(BLOCKS + 5, blocks_max=4):
        pass
    assert chain.first_block_height() == BLOCKS
    assert chain.get_block(BLOCKS) == blocks[-1].block
    assert chain.get_latest_hash() == blocks[-1].block.hash


@pytest.mark.parametrize("height", [0, 4, 7, 11, BLOCKS])
def test_the_state_at_a_kept_height_is_rebuilt_from_the_undo_records(
    store: KeyValueStore, builder: ChainBuilder, height: int
) -> None:
    chain, _, states = build_chain(store, builder)
    chain.prune_below(height + 1, blocks_max=100)
    assert list(iterate_state_at(store, height, BLOCKS)) == sorted(states[height].items())


def test_a_state_whose_undo_records_are_gone_is_refused(store: KeyValueStore, builder: ChainBuilder) -> None:
    chain, _, _ = build_chain(store, builder)
    chain.prune_below(8, blocks_max=100)
    with pytest.raises(StorageError) as refused:
        iterate_state_at(store, 5, BLOCKS)
    assert refused.value.code == "STATE_NOT_RETAINED"


def test_a_store_that_keeps_no_undo_records_can_give_only_its_latest_state(builder: ChainBuilder) -> None:
    store = MemoryStore()
    _, _, states = build_chain(store, builder, keep_undo=False)
    assert list(iterate_state_at(store, BLOCKS, BLOCKS)) == sorted(states[BLOCKS].items())
    with pytest.raises(StorageError, match="none are kept"):
        iterate_state_at(store, BLOCKS - 1, BLOCKS)
