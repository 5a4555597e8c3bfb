"""The start-up check passes a whole chain and names every kind of hole, on LevelDB and in memory."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from ledger.keys import PrivateKey
from ledger.types import Hash, Height
from storage import schema
from storage.chain import ChainStore
from storage.errors import DatabaseCorrupt
from storage.integrity import check_database
from storage.kv import KeyValueStore, WriteBatch
from tests.unit.storage.chain_builder import (
    CHAIN_ID,
    GENESIS_HASH,
    OTHER_GENESIS_HASH,
    ChainBuilder,
    get_validator_keys,
    make_certificate,
)

BLOCKS = 12


def validator_keys() -> list[bytes]:
    return [key.public_key.data for key in get_validator_keys()]


def check(store: KeyValueStore, *, window_blocks: int = BLOCKS) -> Height:
    report = check_database(
        store,
        chain_id=CHAIN_ID,
        genesis_hash=GENESIS_HASH,
        validator_keys=validator_keys(),
        window_blocks=window_blocks,
    )
    return report.latest_height


@pytest.fixture
def filled(chain: ChainStore, builder: ChainBuilder) -> ChainStore:
    for _ in range(BLOCKS):
        committed = builder.advance(builder.build())
        chain.commit_block(committed.block, committed.certificate, committed.receipts, committed.changes)
    return chain


def delete(store: KeyValueStore, *keys: bytes) -> None:
    batch = WriteBatch()
    for key in keys:
        batch.delete(key)
    store.write(batch)


def put(store: KeyValueStore, key: bytes, value: bytes) -> None:
    batch = WriteBatch()
    batch.put(key, value)
    store.write(batch)


def test_a_whole_chain_passes(store: KeyValueStore, filled: ChainStore) -> None:
    assert check(store) == BLOCKS
    assert check(store, window_blocks=3) == BLOCKS


def test_a_new_or_foreign_database_is_left_to_initialize(store: KeyValueStore) -> None:
    assert check(store) == 0
    put(store, schema.GENESIS_HASH_KEY, OTHER_GENESIS_HASH)
    assert check(store) == 0


def first_transaction_id(chain: ChainStore, height: int) -> Hash:
    block = chain.get_block(height)
    assert block is not None and block.transactions
    return block.transactions[0].id


def _changed_entry(kv: KeyValueStore) -> tuple[bytes, bytes]:
    """A state tree entry whose value hash is not the one its bucket hash covers."""
    key, value = next(kv.iterate(prefix=schema.STATE_ENTRY_PREFIX))
    return key, bytes(32) + value[32:]


Damage = Callable[[KeyValueStore, ChainStore], None]
DAMAGES: list[tuple[str, Damage, str]] = [
    ("block missing", lambda kv, chain: delete(kv, schema.block_key(5)), "block at height 5 is missing"),
    ("last block missing", lambda kv, chain: delete(kv, schema.block_key(BLOCKS)), "blocks are stored up to"),
    (
        "certificate missing",
        lambda kv, chain: delete(kv, schema.certificate_key(7)),
        "certificate at height 7 is missing",
    ),
    (
        "block beyond the latest",
        lambda kv, chain: put(kv, schema.LATEST_HEIGHT_KEY, schema.encode_height(BLOCKS - 1)),
        f"latest height is {BLOCKS - 1} but blocks are stored up to {BLOCKS}",
    ),
    (
        "hash index entry missing",
        lambda kv, chain: delete(kv, schema.block_hash_key(chain.get_block(3).hash)),  # type: ignore[union-attr]
        "block hash index",
    ),
    (
        "transaction location missing",
        lambda kv, chain: delete(kv, schema.transaction_location_key(first_transaction_id(chain, 4))),
        "receipts are stored",
    ),
    (
        "transaction index and receipt missing",
        lambda kv, chain: delete(
            kv,
            schema.transaction_location_key(first_transaction_id(chain, 9)),
            schema.receipt_key(first_transaction_id(chain, 9)),
        ),
        "transaction 0 of block 9 is not indexed",
    ),
    (
        "state bucket hash missing",
        lambda kv, chain: delete(kv, next(key for key, _ in kv.iterate(prefix=schema.STATE_BUCKET_PREFIX))),
        "state buckets",
    ),
    (
        "state tree entry changed",
        lambda kv, chain: put(kv, *_changed_entry(kv)),
        "state buckets",
    ),
    (
        "undecodable block",
        lambda kv, chain: put(kv, schema.block_key(8), b"\xa0"),
        "corrupt",
    ),
    (
        "another block's certificate",
        lambda kv, chain: put(kv, schema.certificate_key(6), chain.get_certificate(5).encode()),  # type: ignore[union-attr]
        "block 6",
    ),
]


@pytest.mark.parametrize(("name", "damage", "named"), DAMAGES, ids=[damage[0] for damage in DAMAGES])
def test_every_hole_is_named(
    store: KeyValueStore, filled: ChainStore, name: str, damage: Damage, named: str
) -> None:
    damage(store, filled)
    with pytest.raises(DatabaseCorrupt) as raised:
        check(store)
    assert raised.value.code == "DATABASE_CORRUPT"
    assert named in raised.value.message


def test_a_certificate_signed_by_strangers_is_refused(store: KeyValueStore, filled: ChainStore) -> None:
    block = filled.get_block(10)
    assert block is not None
    strangers = [PrivateKey.generate() for _ in range(4)]
    put(store, schema.certificate_key(10), make_certificate(block, validator_keys=strangers).encode())
    with pytest.raises(DatabaseCorrupt, match="block 10"):
        check(store)


def test_a_broken_link_is_refused(store: KeyValueStore, filled: ChainStore) -> None:
    # Block 6 replaced by a block of another chain at the same height: it links to nothing here.
    other = ChainBuilder()
    other.previous_hash = GENESIS_HASH
    other.height = 5
    foreign = other.build()
    put(store, schema.block_key(6), foreign.block.encode())
    put(store, schema.certificate_key(6), foreign.certificate.encode())
    with pytest.raises(DatabaseCorrupt, match="block 6"):
        check(store)


def test_a_pruned_chain_passes_and_its_holes_are_named(store: KeyValueStore, filled: ChainStore) -> None:
    filled.prune_below(8, blocks_max=100)
    assert check(store) == BLOCKS
    assert check(store, window_blocks=3) == BLOCKS
    delete(store, schema.pruned_header_key(4))
    with pytest.raises(DatabaseCorrupt, match="pruned block's header at height 4 is missing"):
        check(store)


def test_a_pruned_chain_missing_a_receipt_is_refused(store: KeyValueStore, filled: ChainStore) -> None:
    filled.prune_below(5, blocks_max=100)
    delete(store, schema.receipt_key(first_transaction_id(filled, 9)))
    with pytest.raises(DatabaseCorrupt, match="receipts are stored"):
        check(store)


def test_a_tree_whose_root_is_not_the_latest_headers_is_refused(
    store: KeyValueStore, filled: ChainStore
) -> None:
    key, _ = next(store.iterate(prefix=schema.STATE_BUCKET_PREFIX))
    entries = [pair for pair in store.iterate(prefix=schema.STATE_ENTRY_PREFIX)]
    delete(
        store,
        key,
        *[entry for entry, _ in entries if entry[len(schema.STATE_ENTRY_PREFIX) :][:2] == key[-2:]],
    )
    with pytest.raises(DatabaseCorrupt, match="root is not the state root"):
        check(store)
