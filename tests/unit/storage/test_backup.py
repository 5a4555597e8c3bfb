"""Online backups of a LevelDB store: one instant's pairs, restored whole or not at all."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from storage import schema
from storage.backup import BackupInvalid, restore_backup, stream_backup, verify_backup
from storage.errors import StorageError
from storage.kv import LevelDBStore, WriteBatch


def fill(store: LevelDBStore, count: int, tag: bytes = b"v") -> None:
    batch = WriteBatch()
    for index in range(count):
        batch.put(schema.state_key(index.to_bytes(4, "big")), tag * (index % 300))
    batch.put(schema.LATEST_HEIGHT_KEY, (42).to_bytes(8, "big"))
    store.write(batch)


def read_all(path: Path) -> list[tuple[bytes, bytes]]:
    store = LevelDBStore.open(path)
    try:
        return list(store.iterate())
    finally:
        store.close()


@pytest.fixture
def source(tmp_path: Path) -> Iterator[LevelDBStore]:
    store = LevelDBStore.open(tmp_path / "source")
    fill(store, 20_000)  # several chunks and restore batches
    yield store
    store.close()


def test_a_restore_holds_every_pair_as_of_the_backups_instant(source: LevelDBStore, tmp_path: Path) -> None:
    expected = list(source.iterate())
    chunks = stream_backup(source)
    fill(source, 25_000, tag=b"w")  # written while the backup streams: not part of it
    summary = restore_backup(chunks, tmp_path / "restored")
    assert read_all(tmp_path / "restored") == expected
    assert (summary.pairs, summary.height) == (len(expected), 42)
    assert not (tmp_path / "restored" / ".restoring").exists()


@pytest.mark.parametrize("damage", ["cut", "flip", "extra", "header"])
def test_a_damaged_backup_is_refused_and_leaves_nothing(
    source: LevelDBStore, tmp_path: Path, damage: str
) -> None:
    data = b"".join(stream_backup(source))
    damaged = {
        "cut": data[: len(data) // 2],
        "flip": data[:5000] + bytes([data[5000] ^ 1]) + data[5001:],
        "extra": data + b"\0",
        "header": b"NOTABACKUP" + data[10:],
    }[damage]
    with pytest.raises(BackupInvalid):
        restore_backup([damaged], tmp_path / "restored")
    assert not (tmp_path / "restored").exists()


def test_a_data_directory_in_use_is_never_overwritten(source: LevelDBStore, tmp_path: Path) -> None:
    with pytest.raises(StorageError) as raised:
        restore_backup(stream_backup(source), source.path)
    assert raised.value.code == "DATA_DIR_IN_USE"
    assert len(list(source.iterate())) == 20_001


def test_an_empty_directory_is_filled_in_place(source: LevelDBStore, tmp_path: Path) -> None:
    """A volume's mount point cannot be replaced: the restore fills it, or leaves it empty."""
    (tmp_path / "volume").mkdir()
    with pytest.raises(BackupInvalid):
        restore_backup([b"".join(stream_backup(source))[:-1]], tmp_path / "volume")
    assert list((tmp_path / "volume").iterdir()) == []
    assert restore_backup(stream_backup(source), tmp_path / "volume").pairs == 20_001
    assert read_all(tmp_path / "volume") == list(source.iterate())


def test_verify_counts_a_whole_backup_and_refuses_a_cut_one(source: LevelDBStore) -> None:
    data = b"".join(stream_backup(source))
    assert verify_backup([data[:100], data[100:]]) == 20_001
    with pytest.raises(BackupInvalid):
        verify_backup([data[:-1]])
