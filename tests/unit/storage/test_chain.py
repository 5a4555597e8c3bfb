"""ChainStore against LevelDB and the in-memory store: commit, read back, refuse, reopen."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from ledger.certificate import validate_certificate
from ledger.hashing import Domain, compute_hash
from ledger.state_tree import StateTree
from ledger.types import Height
from storage import schema
from storage.block_commit import CommittedBlock
from storage.chain import ChainStore
from storage.errors import BlockMismatch, ChainMismatch, CorruptRecord, HeightConflict, StorageError
from storage.kv import KeyValueStore, LevelDBStore, WriteBatch
from tests.unit.storage.chain_builder import (
    CHAIN_ID,
    GENESIS_CHANGES,
    GENESIS_HASH,
    GENESIS_ROOT,
    OTHER_GENESIS_HASH,
    ChainBuilder,
    get_validator_keys,
    make_block,
    make_certificate,
)
from tests.unit.storage.conftest import read_everything


def commit(chain: ChainStore, committed: CommittedBlock) -> None:
    chain.commit_block(committed.block, committed.certificate, committed.receipts, committed.changes)


def commit_blocks(chain: ChainStore, builder: ChainBuilder, count: int) -> list[CommittedBlock]:
    blocks = []
    for _ in range(count):
        committed = builder.build()
        commit(chain, committed)
        blocks.append(builder.advance(committed))
    return blocks


def test_a_new_chain_holds_the_genesis_and_its_state(chain: ChainStore) -> None:
    assert chain.latest_height() == 0
    assert chain.get_latest_hash() == GENESIS_HASH
    assert chain.get_state_root(Height(0)) == GENESIS_ROOT
    assert chain.get_block(Height(0)) is None
    assert chain.get_block(Height(1)) is None
    assert list(chain.iterate_state(b"account/")) == [(b"account/alice", b"1000"), (b"account/bob", b"500")]


def test_committed_blocks_read_back_by_height_and_by_hash(
    chain: ChainStore, builder: ChainBuilder, store: KeyValueStore
) -> None:
    blocks = commit_blocks(chain, builder, 3)
    assert chain.latest_height() == 3
    assert chain.get_latest_hash() == blocks[-1].block.hash
    fresh = ChainStore(store)  # no cached blocks: everything decoded from the store
    assert fresh.state_tree.root == blocks[-1].block.header.state_root  # the tree as stored
    for committed in blocks:
        block = committed.block
        assert fresh.get_block(block.height) == block
        assert fresh.get_header(block.height) == block.header
        assert fresh.get_block_by_hash(block.hash) == block
        assert fresh.get_state_root(block.height) == block.header.state_root
        certificate = fresh.get_certificate(block.height)
        assert certificate == committed.certificate
        assert certificate is not None
        validate_certificate(
            certificate,
            chain_id=CHAIN_ID,
            validator_keys=[key.public_key.data for key in get_validator_keys()],
            block_hash=block.hash,
            height=block.height,
        )
    assert fresh.get_block(Height(4)) is None
    assert fresh.get_block(Height(-1)) is None
    assert fresh.get_block(Height(10**19)) is None  # a height a client may type, beyond any block
    assert fresh.get_header(Height(4)) is None
    assert fresh.get_certificate(Height(4)) is None
    assert fresh.get_block_by_hash(compute_hash(Domain.BLOCK, b"no such block")) is None


def test_transactions_are_found_by_id_with_their_location_and_receipt(
    chain: ChainStore, builder: ChainBuilder, store: KeyValueStore
) -> None:
    blocks = commit_blocks(chain, builder, 2)
    fresh = ChainStore(store)
    for committed in blocks:
        for index, transaction in enumerate(committed.block.transactions):
            record = fresh.get_transaction(transaction.id)
            assert record is not None
            assert (record.height, record.index) == (committed.block.height, index)
            assert record.transaction == transaction
            assert record.receipt == committed.receipts[index]
            assert fresh.has_transaction(transaction.id)
    assert any(not receipt.success for committed in blocks for receipt in committed.receipts)
    never = compute_hash(Domain.TRANSACTION, b"never submitted")
    assert fresh.get_transaction(never) is None and not fresh.has_transaction(never)


def test_state_changes_put_and_delete(chain: ChainStore, builder: ChainBuilder) -> None:
    changes = [(b"account/alice", b"900"), (b"account/carol", b"100"), (b"config/fee", None)]
    commit(chain, builder.advance(builder.build(changes=changes)))
    assert chain.get_state(b"account/alice") == b"900"
    assert chain.get_state(b"config/fee") is None
    assert list(chain.iterate_state(b"account/")) == [
        (b"account/alice", b"900"),
        (b"account/bob", b"500"),
        (b"account/carol", b"100"),
    ]
    commit(chain, builder.advance(builder.build(changes=[(b"account/carol", None)])))
    assert [key for key, _ in chain.iterate_state(b"")] == [b"account/alice", b"account/bob"]


@pytest.mark.parametrize("state_cache_max", [1, 1000])
def test_state_reads_follow_every_commit_through_the_cache(
    store: KeyValueStore, builder: ChainBuilder, state_cache_max: int
) -> None:
    chain = ChainStore(store, state_cache_max=state_cache_max)
    chain.initialize(GENESIS_HASH, GENESIS_CHANGES)
    keys = [b"account/alice", b"account/bob", b"account/carol"]
    assert [chain.get_state(key) for key in keys] == [b"1000", b"500", None]  # absent ones cached too
    changes = [(b"account/alice", b"900"), (b"account/carol", b"1")]
    commit(chain, builder.advance(builder.build(changes=changes)))
    assert [chain.get_state(key) for key in keys] == [b"900", b"500", b"1"]
    commit(chain, builder.advance(builder.build(changes=[(b"account/carol", None)])))
    assert [chain.get_state(key) for key in keys] == [b"900", b"500", None]
    assert [ChainStore(store).get_state(key) for key in keys] == [b"900", b"500", None]  # as on disk


def test_a_refused_block_leaves_the_state_reads_as_they_were(
    chain: ChainStore, builder: ChainBuilder
) -> None:
    assert chain.get_state(b"account/alice") == b"1000"
    refused = builder.build(changes=[(b"account/alice", b"1")])
    wrong = dataclasses.replace(refused, receipts=refused.receipts[:-1])
    with pytest.raises(BlockMismatch):
        commit(chain, wrong)
    assert chain.get_state(b"account/alice") == b"1000"


def test_a_block_with_no_transactions_is_stored(
    chain: ChainStore, builder: ChainBuilder, store: KeyValueStore
) -> None:
    committed = builder.advance(builder.build(transaction_count=0, changes=[]))
    commit(chain, committed)
    assert ChainStore(store).get_block(Height(1)) == committed.block
    assert chain.get_state_root(Height(1)) == committed.block.header.state_root


@pytest.mark.parametrize("height", [0, 1, 3])
def test_a_block_at_the_wrong_height_is_refused_without_writing(
    chain: ChainStore, builder: ChainBuilder, store: KeyValueStore, height: int
) -> None:
    commit_blocks(chain, builder, 1)
    before = read_everything(store)
    wrong = make_block(
        height=height,
        previous_hash=builder.previous_hash,
        previous_state=builder.state,
        transactions=(),
        changes=[(b"account/alice", b"0")],
    )
    with pytest.raises(HeightConflict) as raised:
        commit(chain, wrong)
    assert raised.value.code == "HEIGHT_CONFLICT"
    assert read_everything(store) == before
    assert chain.latest_height() == 1


def test_a_block_that_does_not_link_to_the_latest_is_refused_without_writing(
    chain: ChainStore, builder: ChainBuilder, store: KeyValueStore
) -> None:
    commit_blocks(chain, builder, 1)
    before = read_everything(store)
    fork = make_block(
        height=2,
        previous_hash=compute_hash(Domain.BLOCK, b"a block nobody committed"),
        previous_state=builder.state,
        transactions=(),
        changes=[(b"account/alice", b"0")],
    )
    with pytest.raises(HeightConflict):
        commit(chain, fork)
    first_after_genesis = make_block(
        height=1,
        previous_hash=GENESIS_HASH,
        previous_state=StateTree(GENESIS_CHANGES),
        transactions=(),
        changes=[],
    )
    with pytest.raises(HeightConflict):
        commit(chain, first_after_genesis)
    assert read_everything(store) == before


def test_what_comes_with_a_block_must_belong_to_it(
    chain: ChainStore, builder: ChainBuilder, store: KeyValueStore
) -> None:
    committed = builder.build()
    other = builder.build(changes=[(b"other", b"block")])
    before = read_everything(store)
    cases = [
        dataclasses.replace(committed, receipts=committed.receipts[:-1]),
        dataclasses.replace(committed, certificate=make_certificate(other.block)),
        dataclasses.replace(committed, changes=(*committed.changes, (b"account/bob", b"1"))),
    ]
    for case in cases:
        with pytest.raises(BlockMismatch) as raised:
            commit(chain, case)
        assert raised.value.code == "BLOCK_MISMATCH"
    assert read_everything(store) == before


def test_receipts_other_than_the_ones_the_header_commits_to_are_refused(
    chain: ChainStore, builder: ChainBuilder, store: KeyValueStore
) -> None:
    committed = builder.build()
    failed = next(index for index, receipt in enumerate(committed.receipts) if not receipt.success)
    receipts = list(committed.receipts)
    receipts[failed] = dataclasses.replace(receipts[failed], success=True, code="", message="")
    before = read_everything(store)
    with pytest.raises(BlockMismatch) as raised:
        commit(chain, dataclasses.replace(committed, receipts=tuple(receipts)))
    height = committed.block.height
    assert raised.value.message == f"the receipts of block {height} do not produce its receipts_root"
    assert read_everything(store) == before
    commit(chain, committed)
    assert chain.get_receipts(committed.block) == list(committed.receipts)


def make_replay(builder: ChainBuilder, earlier: CommittedBlock) -> CommittedBlock:
    """The next block, repeating the first transaction of ``earlier``."""
    return make_block(
        height=builder.height + 1,
        previous_hash=builder.previous_hash,
        previous_state=builder.state,
        transactions=earlier.block.transactions[:1],
        changes=[],
    )


def test_a_transaction_is_committed_once(
    chain: ChainStore, builder: ChainBuilder, store: KeyValueStore
) -> None:
    first = commit_blocks(chain, builder, 1)[0]
    before = read_everything(store)
    replay = make_replay(builder, first)
    with pytest.raises(BlockMismatch) as raised:
        commit(chain, replay)
    assert raised.value.code == "DUPLICATE_TRANSACTION"
    assert read_everything(store) == before


def test_a_record_that_does_not_decode_is_reported_with_its_key(
    chain: ChainStore, builder: ChainBuilder, store: KeyValueStore
) -> None:
    committed = commit_blocks(chain, builder, 1)[0]
    batch = WriteBatch()
    batch.put(schema.block_key(1), committed.block.encode()[:-1])
    batch.put(schema.receipt_key(committed.block.transactions[0].id), b"\xa0")
    store.write(batch)
    fresh = ChainStore(store)
    with pytest.raises(CorruptRecord) as raised:
        fresh.get_block(Height(1))
    assert raised.value.code == "CORRUPT_RECORD"
    assert raised.value.key == schema.block_key(1)
    assert schema.block_key(1).hex() in raised.value.message
    with pytest.raises(CorruptRecord):
        chain.get_transaction(committed.block.transactions[0].id)  # the block is cached, the receipt is not


def test_a_state_root_beyond_the_chain_is_an_error(chain: ChainStore) -> None:
    with pytest.raises(StorageError) as raised:
        chain.get_state_root(Height(5))
    assert raised.value.code == "UNKNOWN_HEIGHT"


def test_contract_state_keys_cannot_reach_other_records(
    chain: ChainStore, builder: ChainBuilder, store: KeyValueStore
) -> None:
    # A contract's raw key that looks like a block key stays inside the state prefix.
    hostile = schema.block_key(1)
    commit(chain, builder.advance(builder.build(changes=[(hostile, b"not a block")])))
    assert chain.get_state(hostile) == b"not a block"
    assert ChainStore(store).get_block(Height(1)) is not None


def test_leveldb_keeps_the_whole_chain_across_a_reopen(tmp_path: Path, builder: ChainBuilder) -> None:
    kv = LevelDBStore.open(tmp_path / "db")
    chain = ChainStore(kv)
    chain.initialize(GENESIS_HASH, GENESIS_CHANGES)
    blocks = commit_blocks(chain, builder, 3)
    kv.close()

    kv = LevelDBStore.open(tmp_path / "db")
    reopened = ChainStore(kv)
    reopened.initialize(GENESIS_HASH, ())  # existing database: nothing is rewritten
    assert reopened.latest_height() == 3
    assert reopened.get_latest_hash() == blocks[-1].block.hash
    assert reopened.get_state_root(Height(0)) == GENESIS_ROOT
    assert [reopened.get_block(Height(height)) for height in (1, 2, 3)] == [c.block for c in blocks]
    record = reopened.get_transaction(blocks[1].block.transactions[2].id)
    assert record is not None and (record.height, record.index) == (2, 2)
    assert reopened.get_state(b"block/3") == b"value 3"
    commit_blocks(reopened, builder, 1)  # and the chain goes on from where it was
    assert reopened.latest_height() == 4
    with pytest.raises(ChainMismatch):
        ChainStore(kv).initialize(OTHER_GENESIS_HASH, ())
    kv.close()


class CountingStore:
    """Passes everything to the store beneath and counts its synced writes."""

    def __init__(self, kv: KeyValueStore) -> None:
        self._kv = kv
        self.synced_writes = 0

    def __getattr__(self, name: str) -> object:
        return getattr(self._kv, name)

    def write(self, batch: WriteBatch, *, sync: bool = True) -> None:
        self.synced_writes += sync
        self._kv.write(batch, sync=sync)


def build_run(builder: ChainBuilder, count: int) -> list[CommittedBlock]:
    return [builder.advance(builder.build()) for _ in range(count)]


def test_consecutive_blocks_commit_in_one_synced_write_and_read_back_as_if_one_by_one(
    store: KeyValueStore, tmp_path: Path
) -> None:
    counting = CountingStore(store)
    chain = ChainStore(counting)  # type: ignore[arg-type]
    chain.initialize(GENESIS_HASH, GENESIS_CHANGES)
    blocks = build_run(ChainBuilder(), 4)
    before = counting.synced_writes
    chain.commit_blocks(blocks)
    assert counting.synced_writes == before + 1
    reference = LevelDBStore.open(tmp_path / "one-by-one")
    one_by_one = ChainStore(reference)
    one_by_one.initialize(GENESIS_HASH, GENESIS_CHANGES)
    for committed in blocks:
        commit(one_by_one, committed)
    assert read_everything(store) == read_everything(reference)
    reference.close()
    assert chain.latest_height() == 4 and chain.get_latest_hash() == blocks[-1].block.hash


def test_a_bad_block_in_a_run_leaves_the_whole_run_unwritten(
    chain: ChainStore, builder: ChainBuilder, store: KeyValueStore
) -> None:
    good = build_run(builder, 2)
    wrong_digest = dataclasses.replace(builder.build(), changes=((b"forged", b"1"),))
    before = read_everything(store)
    with pytest.raises(BlockMismatch):
        chain.commit_blocks([*good, wrong_digest])
    assert read_everything(store) == before and chain.latest_height() == 0


def test_a_transaction_repeated_across_a_run_is_refused(
    chain: ChainStore, builder: ChainBuilder, store: KeyValueStore
) -> None:
    first = builder.advance(builder.build())
    replay = make_replay(builder, first)
    before = read_everything(store)
    with pytest.raises(BlockMismatch) as raised:
        chain.commit_blocks([first, replay])
    assert raised.value.code == "DUPLICATE_TRANSACTION"
    assert read_everything(store) == before
