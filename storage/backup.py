"""Online backups: every pair of a running node's database as of one instant, and their restore.

A backup is written from one LevelDB iterator, which reads from the snapshot
LevelDB takes when it is created: blocks, state, receipts and the consensus
log as they stood together at that instant, however many blocks commit while
the backup streams. Its format, version 1:

    b"HLBACKUP" version(1)          header
    key length(4) value length(4) key value   one record per pair, in key order
    0xFFFFFFFF 0(4)                           the end of the records
    pairs(8) sha256(32)                       the count, and SHA-256 of everything before them

A restore checks the trailer before anything is kept: it writes a new
database in a hidden directory inside the target (which may be a volume's
mount point, so it cannot be replaced whole) and moves its files into place
only once every pair arrived and the digest holds, LevelDB's CURRENT file
last, so a cut-off or damaged file never leaves a half database where a hub
would start from it.
"""

from __future__ import annotations

import hashlib
import shutil
import struct
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from storage import schema
from storage.errors import StorageError
from storage.kv import KeyValueStore, LevelDBStore, WriteBatch

MAGIC = b"HLBACKUP"
VERSION = 1
HEADER = MAGIC + bytes([VERSION])
END = 0xFFFFFFFF
CHUNK_BYTES = 1 << 20  # what the node hands the socket at a time, between turns of the event loop
BATCH_PAIRS = 10_000  # pairs a restore writes in one LevelDB batch
STAGING = ".restoring"  # inside the data directory, removed once the restore is whole
_LENGTHS = struct.Struct(">II")
_TRAILER = struct.Struct(">Q32s")
END_MARK = _LENGTHS.pack(END, 0)


class BackupInvalid(StorageError):
    """Raised when a backup file is cut short, damaged, or not a HubLedger backup."""

    code = "BACKUP_INVALID"


@dataclass(frozen=True, slots=True)
class RestoreSummary:
    pairs: int
    height: int


def stream_backup(store: KeyValueStore) -> Iterator[bytes]:
    """The backup of ``store`` in chunks of about CHUNK_BYTES, as of the moment of this call."""
    pairs = store.iterate()  # created now: its snapshot is the backup's instant
    digest = hashlib.sha256(HEADER)
    count = 0

    def generate() -> Iterator[bytes]:
        nonlocal count
        yield HEADER
        chunk = bytearray()
        for key, value in pairs:
            chunk += _LENGTHS.pack(len(key), len(value)) + key + value
            count += 1
            if len(chunk) >= CHUNK_BYTES:
                digest.update(chunk)
                yield bytes(chunk)
                chunk.clear()
        chunk += END_MARK
        digest.update(chunk)
        yield bytes(chunk) + _TRAILER.pack(count, digest.digest())

    return generate()


def restore_backup(chunks: Iterable[bytes], data_dir: Path) -> RestoreSummary:
    """Write the backup read from ``chunks`` as the database in ``data_dir``, which must not exist
    or be empty. Raises BackupInvalid (nothing is kept) or StorageError (DATA_DIR_IN_USE)."""
    if data_dir.exists() and (not data_dir.is_dir() or any(data_dir.iterdir())):
        raise StorageError(
            f"{data_dir} is not empty: stop the hub and empty its data directory before restoring",
            code="DATA_DIR_IN_USE",
        )
    created = not data_dir.exists()
    staging = data_dir / STAGING
    store = LevelDBStore.open(staging)
    try:
        pairs = _write_pairs(_BackupReader(chunks), store)
        height = store.get(schema.LATEST_HEIGHT_KEY)
    except BaseException:
        store.close()
        shutil.rmtree(staging, ignore_errors=True)
        if created:
            data_dir.rmdir()
        raise
    store.close()
    for file in sorted(staging.iterdir(), key=lambda file: file.name == "CURRENT"):
        file.rename(data_dir / file.name)
    staging.rmdir()
    return RestoreSummary(pairs=pairs, height=schema.decode_height(height) if height else 0)


def verify_backup(chunks: Iterable[bytes]) -> int:
    """The number of pairs in the backup read from ``chunks``; raises BackupInvalid if it is not whole."""
    return sum(1 for _ in _read_pairs(_BackupReader(chunks)))


def _write_pairs(reader: _BackupReader, store: LevelDBStore) -> int:
    batch = WriteBatch()
    count = 0
    for key, value in _read_pairs(reader):
        batch.put(key, value)
        count += 1
        if len(batch) >= BATCH_PAIRS:
            store.write(batch, sync=False)
            batch = WriteBatch()
    store.write(batch, sync=True)
    return count


def _read_pairs(reader: _BackupReader) -> Iterator[tuple[bytes, bytes]]:
    """Every pair; the generator raises BackupInvalid, after the last pair, unless the trailer holds."""
    if reader.read(len(HEADER)) != HEADER:
        raise BackupInvalid("the file is not a HubLedger backup (version 1): its header does not match")
    count = 0
    while True:
        key_length, value_length = _LENGTHS.unpack(reader.read(_LENGTHS.size))
        if key_length == END:
            break
        yield reader.read(key_length), reader.read(value_length)
        count += 1
    expected = reader.digest()
    pairs, digest = _TRAILER.unpack(reader.read(_TRAILER.size))
    if pairs != count or digest != expected:
        raise BackupInvalid(f"the backup is damaged: its trailer does not match the {count} pairs read")
    if reader.read_rest():
        raise BackupInvalid("the backup has bytes after its trailer: it is damaged")


class _BackupReader:
    """Exact reads over a stream of chunks, hashing every byte until the trailer."""

    def __init__(self, chunks: Iterable[bytes]) -> None:
        self._chunks = iter(chunks)
        self._buffer = bytearray()
        self._digest = hashlib.sha256()

    def read(self, size: int) -> bytes:
        while len(self._buffer) < size:
            chunk = next(self._chunks, None)
            if chunk is None:
                raise BackupInvalid("the backup is cut short: it ends before its trailer")
            self._buffer += chunk
        data = bytes(self._buffer[:size])
        del self._buffer[:size]
        self._digest.update(data)
        return data

    def digest(self) -> bytes:
        """SHA-256 of everything read so far."""
        return self._digest.digest()

    def read_rest(self) -> bytes:
        rest = bytes(self._buffer) + b"".join(self._chunks)
        self._buffer.clear()
        return rest
