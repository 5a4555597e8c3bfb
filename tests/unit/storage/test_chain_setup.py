"""Setting up a chain store (storage/chain_setup.py): genesis written once, and a database of
another genesis or schema version refused, on LevelDB and in memory."""

from __future__ import annotations

import pytest

from storage import schema
from storage.chain import ChainStore
from storage.errors import ChainMismatch, StorageError
from storage.kv import KeyValueStore, WriteBatch
from tests.unit.storage.chain_builder import GENESIS_CHANGES, GENESIS_HASH, OTHER_GENESIS_HASH, ChainBuilder
from tests.unit.storage.conftest import read_everything
from tests.unit.storage.test_chain import commit


def test_initializing_again_with_the_same_genesis_changes_nothing(
    chain: ChainStore, builder: ChainBuilder, store: KeyValueStore
) -> None:
    commit(chain, builder.advance(builder.build(changes=[(b"account/alice", None)])))
    before = read_everything(store)
    ChainStore(store).initialize(GENESIS_HASH, GENESIS_CHANGES)
    assert read_everything(store) == before
    assert chain.get_state(b"account/alice") is None


def test_a_database_of_another_genesis_is_refused(chain: ChainStore, store: KeyValueStore) -> None:
    with pytest.raises(ChainMismatch) as raised:
        ChainStore(store).initialize(OTHER_GENESIS_HASH, ())
    assert raised.value.code == "CHAIN_MISMATCH"
    assert GENESIS_HASH.hex() in raised.value.message


def test_a_database_of_another_schema_version_is_refused(store: KeyValueStore) -> None:
    batch = WriteBatch()
    batch.put(bytes([schema.SCHEMA_VERSION + 1]) + b"m-genesis", b"x")
    store.write(batch)
    with pytest.raises(StorageError) as raised:
        ChainStore(store).initialize(GENESIS_HASH, GENESIS_CHANGES)
    assert raised.value.code == "SCHEMA_MISMATCH"


def test_a_database_of_the_schema_before_receipts_roots_is_refused(store: KeyValueStore) -> None:
    """Version 1 stored headers without receipts_root: such a database is named, never misread."""
    batch = WriteBatch()
    batch.put(bytes([1]) + b"mgenesis-hash", GENESIS_HASH)
    batch.put(bytes([1]) + b"b" + (1).to_bytes(8, "big"), b"a block of version 1")
    store.write(batch)
    with pytest.raises(StorageError) as raised:
        ChainStore(store).initialize(GENESIS_HASH, GENESIS_CHANGES)
    assert raised.value.code == "SCHEMA_MISMATCH"
    assert raised.value.message.startswith(
        "the database holds records of schema version 1, "
        f"and this HubLedger reads version {schema.SCHEMA_VERSION} only"
    )


def test_an_uninitialized_store_says_so(store: KeyValueStore, builder: ChainBuilder) -> None:
    chain = ChainStore(store)
    assert chain.latest_height() == 0
    with pytest.raises(StorageError) as raised:
        commit(chain, builder.build())
    assert raised.value.code == "NOT_INITIALIZED"
