"""The replica's log: what is put is loaded back, in key order, across a reopen."""

from __future__ import annotations

from pathlib import Path

import pytest

from storage.chain import ChainStore
from storage.consensus_log import ConsensusLogStore
from storage.errors import DatabaseCorrupt
from storage.kv import KeyValueStore, LevelDBStore


def test_entries_are_loaded_in_key_order_and_deleted(store: KeyValueStore) -> None:
    log = ConsensusLogStore(store)
    assert log.load() == []
    log.put([(b"vote/2", b"commit 2"), (b"view", b"\x00\x03"), (b"vote/1", b"commit 1")])
    log.put([(b"vote/1", b"commit 1 again")])
    assert log.load() == [(b"view", b"\x00\x03"), (b"vote/1", b"commit 1 again"), (b"vote/2", b"commit 2")]
    log.delete([b"vote/1", b"never-written"])
    log.put([])
    log.delete([])
    assert log.load() == [(b"view", b"\x00\x03"), (b"vote/2", b"commit 2")]


def test_the_log_and_the_chain_do_not_see_each_others_records(
    chain: ChainStore, store: KeyValueStore
) -> None:
    log = ConsensusLogStore(store)
    log.put([(b"", b"empty key"), (b"\xff" * 40, b"high key")])
    assert [key for key, _ in chain.iterate_state(b"")] == [b"account/alice", b"account/bob", b"config/fee"]
    assert chain.get_state(b"") is None
    assert log.load() == [(b"", b"empty key"), (b"\xff" * 40, b"high key")]


def test_what_was_put_survives_a_reopen(tmp_path: Path) -> None:
    kv = LevelDBStore.open(tmp_path / "db")
    ConsensusLogStore(kv).put([(b"prepare/7", b"signed prepare")])
    kv.close()
    kv = LevelDBStore.open(tmp_path / "db")
    assert ConsensusLogStore(kv).load() == [(b"prepare/7", b"signed prepare")]
    kv.close()


ENTRIES = [(b"vote/%04d" % number, b"signed vote %04d " % number + b"." * 80) for number in range(200)]


def write_log(path: Path, *, into_table: bool) -> Path:
    kv = LevelDBStore.open(path)
    ConsensusLogStore(kv).put(ENTRIES)
    kv.close()
    if into_table:
        LevelDBStore.open(path).close()  # reopening turns the write-ahead log into a table
    pattern = "*.ldb" if into_table else "*.log"
    return max(path.glob(pattern), key=lambda file: file.stat().st_size)


@pytest.mark.parametrize("into_table", [True, False], ids=["table", "write-ahead-log"])
@pytest.mark.parametrize("fraction", [0.1, 0.3, 0.5, 0.7])
def test_a_damaged_log_is_refused_never_loaded_shorter(
    tmp_path: Path, into_table: bool, fraction: float
) -> None:
    damaged = write_log(tmp_path / "db", into_table=into_table)
    data = bytearray(damaged.read_bytes())
    data[int(len(data) * fraction)] ^= 0x10
    damaged.write_bytes(bytes(data))
    try:
        kv = LevelDBStore.open(tmp_path / "db")
        try:
            loaded = ConsensusLogStore(kv).load()
        finally:
            kv.close()
    except DatabaseCorrupt as error:
        assert error.code == "DATABASE_CORRUPT"
        return
    assert loaded == ENTRIES, "a damaged consensus log loaded without a word"
