"""Every storage test that takes ``store`` runs once against LevelDB and once in memory."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from storage.chain import ChainStore
from storage.kv import KeyValueStore, LevelDBStore, MemoryStore
from tests.unit.storage.chain_builder import GENESIS_CHANGES, GENESIS_HASH, ChainBuilder


@pytest.fixture(params=["leveldb", "memory"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[KeyValueStore]:
    kv: KeyValueStore = LevelDBStore.open(tmp_path / "db") if request.param == "leveldb" else MemoryStore()
    yield kv
    kv.close()


@pytest.fixture
def chain(store: KeyValueStore) -> ChainStore:
    chain = ChainStore(store)
    chain.initialize(GENESIS_HASH, GENESIS_CHANGES)
    return chain


@pytest.fixture
def builder() -> ChainBuilder:
    return ChainBuilder()


def read_everything(kv: KeyValueStore) -> list[tuple[bytes, bytes]]:
    return list(kv.iterate())
