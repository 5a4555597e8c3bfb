"""Evidence is stored once per id, counted, and listed newest first."""

from __future__ import annotations

from pathlib import Path

import pytest

from storage.errors import StorageError
from storage.evidence import EvidenceStore
from storage.kv import KeyValueStore, LevelDBStore


def test_evidence_is_stored_once_per_id(store: KeyValueStore) -> None:
    evidence = EvidenceStore(store)
    assert evidence.count() == 0
    assert evidence.list() == []
    assert evidence.add(b"id-1", b"record 1") is True
    assert evidence.add(b"id-1", b"record 1 seen again") is False
    assert evidence.count() == 1
    assert evidence.list() == [b"record 1"]


def test_evidence_is_listed_newest_first_up_to_a_limit(store: KeyValueStore) -> None:
    evidence = EvidenceStore(store)
    for number in range(5):
        assert evidence.add(b"id-%d" % number, b"record %d" % number)
    assert evidence.count() == 5
    assert evidence.list(limit=3) == [b"record 4", b"record 3", b"record 2"]
    assert evidence.list(limit=0) == []
    with pytest.raises(StorageError) as raised:
        evidence.list(limit=-1)
    assert raised.value.code == "BAD_LIMIT"


def test_evidence_survives_a_reopen(tmp_path: Path) -> None:
    kv = LevelDBStore.open(tmp_path / "db")
    EvidenceStore(kv).add(b"id", b"two commits for one slot")
    kv.close()
    kv = LevelDBStore.open(tmp_path / "db")
    evidence = EvidenceStore(kv)
    assert evidence.count() == 1
    assert evidence.add(b"id", b"again") is False
    assert evidence.list() == [b"two commits for one slot"]
    kv.close()
