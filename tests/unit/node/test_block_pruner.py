"""What the node drops after each commit keeps up with how fast blocks arrive: a replay that
commits hundreds of blocks at once leaves no more undo records than the state history, and a
pruning hub no more bodies than it keeps."""

from __future__ import annotations

import pytest
import structlog

from node import pruning
from node.pruning import BlockPruner
from storage import schema
from storage.chain import ChainStore
from storage.errors import DatabaseCorrupt, StorageError
from storage.history import first_undo_height
from storage.kv import MemoryStore
from tests.unit.storage.chain_builder import GENESIS_CHANGES, GENESIS_HASH, ChainBuilder

BATCH = 40  # blocks a catch-up commits in one batch, more than the pruner's steady pace


def committed_batch(chain: ChainStore, builder: ChainBuilder) -> None:
    blocks = [builder.advance(builder.build()) for _ in range(BATCH)]
    chain.commit_blocks(blocks)


@pytest.fixture
def store() -> MemoryStore:
    return MemoryStore()


@pytest.fixture
def chain(store: MemoryStore) -> ChainStore:
    chain = ChainStore(store, keep_undo=True)
    chain.initialize(GENESIS_HASH, GENESIS_CHANGES)
    return chain


def test_a_replayed_batch_leaves_only_the_state_history_of_undo_records(
    store: MemoryStore, chain: ChainStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(pruning, "BLOCKS_PER_COMMIT", 4)
    pruner = BlockPruner(chain, keep_blocks=0, state_history_blocks=5)
    committed_batch(chain, ChainBuilder())
    pruner.after_commit()
    assert chain.first_provable_height() == BATCH - 5
    assert first_undo_height(store) == BATCH - 4
    assert len(list(store.iterate(prefix=schema.UNDO_PREFIX))) == 5


def test_a_pruning_hub_prunes_a_replayed_batch_down_to_what_it_keeps(
    chain: ChainStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(pruning, "BLOCKS_PER_COMMIT", 4)
    pruner = BlockPruner(chain, keep_blocks=10, state_history_blocks=5)
    committed_batch(chain, ChainBuilder())
    pruner.after_commit()
    assert chain.first_block_height() == BATCH - 9
    assert chain.first_provable_height() == BATCH - 10  # the undo records of every kept block


def test_a_chain_younger_than_its_state_history_keeps_every_undo_record(chain: ChainStore) -> None:
    pruner = BlockPruner(chain, keep_blocks=0, state_history_blocks=1000)
    committed_batch(chain, ChainBuilder())
    pruner.after_commit()
    assert chain.first_provable_height() == 0


class FullDisk(ChainStore):
    def trim_undo_below(self, height: int, *, blocks_max: int) -> int:
        raise StorageError("the disk is full", code="STORAGE_ERROR")


def test_a_failing_trim_is_logged_once_and_never_raised_into_the_commit(store: MemoryStore) -> None:
    chain = FullDisk(store, keep_undo=True)
    chain.initialize(GENESIS_HASH, GENESIS_CHANGES)
    pruner = BlockPruner(chain, keep_blocks=0, state_history_blocks=5)
    with structlog.testing.capture_logs() as logs:
        for _ in range(3):
            pruner.after_commit()
    assert [entry["event"] for entry in logs] == ["pruning_failed"]
    assert logs[0]["problem"] == "the disk is full"


def test_a_damaged_database_found_while_pruning_stops_the_node(store: MemoryStore) -> None:
    class Damaged(ChainStore):
        def trim_undo_below(self, height: int, *, blocks_max: int) -> int:
            raise DatabaseCorrupt("checksum mismatch")

    chain = Damaged(store, keep_undo=True)
    chain.initialize(GENESIS_HASH, GENESIS_CHANGES)
    with pytest.raises(DatabaseCorrupt):
        BlockPruner(chain, keep_blocks=0, state_history_blocks=5).after_commit()
