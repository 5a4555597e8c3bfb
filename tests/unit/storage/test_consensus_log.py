"""The replica's log: what is put is loaded back, in key order, across a reopen."""

from __future__ import annotations

from pathlib import Path

from storage.chain import ChainStore
from storage.consensus_log import ConsensusLogStore
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
