"""The state of an earlier height, rebuilt from a snapshot of the store and the undo records,
proves each key with the root of that height's header; trimming the undo records keeps an
unbroken run from the oldest kept to the latest, and says how far back a proof can go."""

from __future__ import annotations

import pytest

from ledger.state_tree import verify_state_proof
from storage import schema
from storage.chain import ChainStore
from storage.errors import StorageError
from storage.history import first_undo_height, prove_state_at
from storage.kv import KeyValueStore, LevelDBStore, MemoryStore
from tests.unit.storage.chain_builder import ChainBuilder
from tests.unit.storage.test_pruning import BLOCKS, build_chain

# Written every block, written once, deleted then restored (a genesis key), and never written.
KEYS = (b"height", b"block/2", b"block/4", b"account/alice", b"nobody")


def snapshot_of(store: KeyValueStore) -> MemoryStore | LevelDBStore:
    assert isinstance(store, (MemoryStore, LevelDBStore))
    return store


@pytest.mark.parametrize("height", range(BLOCKS))
def test_each_earlier_state_proves_every_key_with_the_root_of_its_header(
    store: KeyValueStore, builder: ChainBuilder, height: int
) -> None:
    chain, _, states = build_chain(store, builder)
    view = snapshot_of(store).read_view()
    root, proofs = prove_state_at(view, height, KEYS)
    view.close()
    assert root == chain.get_state_root(height)
    for key, proof in zip(KEYS, proofs, strict=True):
        assert proof.value == states[height].get(key), key
        verify_state_proof(root, proof)


def test_a_snapshot_keeps_proving_the_height_it_was_asked_while_blocks_commit(
    store: KeyValueStore, builder: ChainBuilder
) -> None:
    chain, _, states = build_chain(store, builder)
    view = snapshot_of(store).read_view()
    committed = builder.build(changes=[(b"height", b"later"), (b"account/alice", None)])
    chain.commit_block(committed.block, committed.certificate, committed.receipts, committed.changes)
    root, proofs = prove_state_at(view, 5, KEYS)
    view.close()
    assert root == chain.get_state_root(5)
    assert [proof.value for proof in proofs] == [states[5].get(key) for key in KEYS]


def test_the_latest_height_is_not_rebuilt_and_a_later_one_is_unknown(
    store: KeyValueStore, builder: ChainBuilder
) -> None:
    build_chain(store, builder)
    view = snapshot_of(store).read_view()
    for height in (BLOCKS, BLOCKS + 1):
        with pytest.raises(StorageError) as refused:
            prove_state_at(view, height, KEYS)
        assert refused.value.code == "UNKNOWN_HEIGHT"
    view.close()


def test_trimming_drops_the_oldest_undo_records_and_moves_the_first_provable_height(
    store: KeyValueStore, builder: ChainBuilder
) -> None:
    chain, _, _ = build_chain(store, builder)
    assert chain.first_provable_height() == 0  # undo records from block 1: genesis state rebuilt
    assert chain.trim_undo_below(6, blocks_max=2) == 2  # a few at a time, oldest first
    assert (first_undo_height(store), chain.first_provable_height()) == (3, 2)
    assert chain.trim_undo_below(6, blocks_max=100) == 3
    assert chain.first_provable_height() == 5
    assert store.get(schema.undo_key(5)) is None and store.get(schema.undo_key(6)) is not None
    view = snapshot_of(store).read_view()
    with pytest.raises(StorageError) as refused:
        prove_state_at(view, 4, KEYS)
    assert refused.value.code == "STATE_NOT_RETAINED"
    assert prove_state_at(view, 5, KEYS)[0] == chain.get_state_root(5)
    view.close()
    assert chain.trim_undo_below(6, blocks_max=100) == 0  # nothing more below 6


def test_trimming_everything_leaves_a_run_that_starts_at_the_next_block(
    store: KeyValueStore, builder: ChainBuilder
) -> None:
    chain, _, _ = build_chain(store, builder)
    assert chain.trim_undo_below(BLOCKS + 1, blocks_max=100) == BLOCKS
    assert (first_undo_height(store), chain.first_provable_height()) == (BLOCKS + 1, BLOCKS)
    assert not list(store.iterate(prefix=schema.UNDO_PREFIX))  # not one record left behind
    committed = builder.build(changes=[(b"height", b"again")])
    chain.commit_block(committed.block, committed.certificate, committed.receipts, committed.changes)
    assert (first_undo_height(store), chain.first_provable_height()) == (BLOCKS + 1, BLOCKS)
    view = snapshot_of(store).read_view()
    assert prove_state_at(view, BLOCKS, KEYS)[0] == chain.get_state_root(BLOCKS)
    view.close()


def commit_one(chain: ChainStore, builder: ChainBuilder, value: bytes) -> None:
    committed = builder.build(changes=[(b"height", value)])
    chain.commit_block(committed.block, committed.certificate, committed.receipts, committed.changes)
    builder.advance(committed)


def test_a_store_that_stops_then_resumes_keeping_undo_records_never_claims_across_the_gap(
    builder: ChainBuilder,
) -> None:
    """Off for one block, with the old records only partly dropped, then on again: the run
    starts after the gap, and what is below it is refused rather than read around."""
    store = MemoryStore()
    build_chain(store, builder)
    stopped = ChainStore(store, keep_undo=False)  # restarted with state_history_blocks = 0
    assert stopped.first_provable_height() == 0  # nothing committed since: the records still hold
    commit_one(stopped, builder, b"no undo")
    assert first_undo_height(store) is None and stopped.first_provable_height() == BLOCKS + 1
    assert stopped.trim_undo_below(BLOCKS + 2, blocks_max=5) == 5  # dropping them, a few at a time
    resumed = ChainStore(store, keep_undo=True)  # restarted again, keeping them
    commit_one(resumed, builder, b"undo again")
    assert (first_undo_height(store), resumed.first_provable_height()) == (BLOCKS + 2, BLOCKS + 1)
    view = store.read_view()
    assert prove_state_at(view, BLOCKS + 1, KEYS)[0] == resumed.get_state_root(BLOCKS + 1)
    with pytest.raises(StorageError) as refused:
        prove_state_at(view, BLOCKS, KEYS)
    assert refused.value.code == "STATE_NOT_RETAINED" and "they start at block 14" in refused.value.message
    # A long history trims nothing of the run, but what is below it goes: it can never be read.
    assert resumed.trim_undo_below(BLOCKS + 2 - 1000, blocks_max=100) == BLOCKS - 5
    assert first_undo_height(store) == BLOCKS + 2 and store.get(schema.undo_key(BLOCKS + 2)) is not None
    assert [key for key, _ in store.iterate(prefix=schema.UNDO_PREFIX)] == [schema.undo_key(BLOCKS + 2)]
