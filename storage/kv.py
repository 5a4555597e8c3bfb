"""The key-value contract every HubLedger store keeps, and its two implementations.

``KeyValueStore`` is what the rest of ``storage`` is written against: point
reads, ordered iteration over a key range, atomic write batches and close.
``LevelDBStore`` runs it on LevelDB through plyvel (this module is the only
place in HubLedger that imports plyvel); ``MemoryStore`` runs it on a sorted
list in pure Python for the simulator and for tests. One test suite runs
against both, so the two cannot drift apart.

Iteration sees the store as it was when ``iterate`` was called: LevelDB gives
its iterators an implicit snapshot, and the memory store copies the range.

LevelDB is opened with paranoid checks (a damaged write-ahead log or table
refuses the open instead of being skipped silently) and every read verifies
block checksums; a mismatch anywhere raises DatabaseCorrupt, never wrong bytes
or a shorter answer. Verifying costs a read that misses LevelDB's block cache
about 2 us more (3.6 to 5.7 us over 200,000 random keys of a 35 MB database);
an absent key answered by the Bloom filter costs nothing more, and most state
reads are answered by the chain's own cache before they get here.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import plyvel

from storage.errors import DatabaseCorrupt, StorageError

# Most point reads look for a key that is absent: every new submission and every committed
# transaction is checked against the committed ones. A Bloom filter answers most of those
# from memory instead of searching each level's files. Tables written without one stay readable.
BLOOM_FILTER_BITS = 10
# Tables are written uncompressed. Compaction rewrites every byte several times as the
# chain grows, and with Snappy that took a growing share of a node's CPU: a quarter of it
# after 700,000 transactions. Signatures, keys and hashes do not compress anyway; tables
# written compressed before stay readable.


@dataclass(slots=True)
class WriteBatch:
    """Puts and deletes applied in order, all or none, by ``KeyValueStore.write``."""

    # (key, value) for a put, (key, None) for a delete: a block's commit holds several a
    # transaction, and a pair costs a tenth of what an operation object does.
    operations: list[tuple[bytes, bytes | None]] = field(default_factory=list)

    def put(self, key: bytes, value: bytes) -> None:
        if (type(key) is not bytes or type(value) is not bytes) and not (
            isinstance(key, bytes) and isinstance(value, bytes)
        ):
            raise TypeError("keys and values in a write batch are bytes")
        self.operations.append((key, value))

    def delete(self, key: bytes) -> None:
        if not isinstance(key, bytes):
            raise TypeError("keys in a write batch are bytes")
        self.operations.append((key, None))

    def __len__(self) -> int:
        return len(self.operations)


class KeyValueStore(Protocol):
    def get(self, key: bytes) -> bytes | None: ...

    def iterate(
        self,
        *,
        prefix: bytes = b"",
        start: bytes | None = None,
        stop: bytes | None = None,
        reverse: bool = False,
    ) -> Iterator[tuple[bytes, bytes]]:
        """Pairs with keys under ``prefix`` and in [start, stop), in key order (or reversed)."""
        ...

    def write(self, batch: WriteBatch, *, sync: bool = True) -> None:
        """Apply every operation of ``batch`` atomically; with ``sync`` it is on disk on return."""
        ...

    def close(self) -> None: ...


class ReadView(Protocol):
    """A consistent, read-only view of a store as it was when taken (storage/snapshots.py)."""

    def get(self, key: bytes) -> bytes | None: ...

    def iterate(
        self, *, prefix: bytes = b"", start: bytes | None = None, stop: bytes | None = None
    ) -> Iterator[tuple[bytes, bytes]]: ...

    def close(self) -> None: ...


def compute_key_range(prefix: bytes, start: bytes | None, stop: bytes | None) -> tuple[bytes, bytes | None]:
    """The half-open range [lower, upper) of keys under ``prefix`` and in [start, stop);
    ``upper`` is None when the range runs to the end of the key space."""
    lower = max(prefix, start) if start is not None else prefix
    upper = compute_prefix_end(prefix)
    if stop is not None:
        upper = stop if upper is None else min(upper, stop)
    return lower, upper


def compute_prefix_end(prefix: bytes) -> bytes | None:
    """The smallest key greater than every key starting with ``prefix`` (None if there is none)."""
    stripped = prefix.rstrip(b"\xff")
    if not stripped:
        return None
    return stripped[:-1] + bytes([stripped[-1] + 1])


class MemoryStore:
    """A sorted in-memory store: the simulator's disk, and the tests' fast twin of LevelDB."""

    def __init__(self) -> None:
        self._values: dict[bytes, bytes] = {}
        self._keys: list[bytes] = []  # sorted
        self._closed = False

    def get(self, key: bytes) -> bytes | None:
        self._check_open()
        return self._values.get(key)

    def iterate(
        self,
        *,
        prefix: bytes = b"",
        start: bytes | None = None,
        stop: bytes | None = None,
        reverse: bool = False,
    ) -> Iterator[tuple[bytes, bytes]]:
        self._check_open()
        lower, upper = compute_key_range(prefix, start, stop)
        first = bisect.bisect_left(self._keys, lower)
        last = len(self._keys) if upper is None else bisect.bisect_left(self._keys, upper)
        pairs = [(key, self._values[key]) for key in self._keys[first:last]]
        if reverse:
            pairs.reverse()
        return iter(pairs)

    def write(self, batch: WriteBatch, *, sync: bool = True) -> None:
        self._check_open()
        for key, value in batch.operations:
            if value is not None:
                if key not in self._values:
                    bisect.insort(self._keys, key)
                self._values[key] = value
            elif self._values.pop(key, None) is not None:
                del self._keys[bisect.bisect_left(self._keys, key)]

    def close(self) -> None:
        self._closed = True

    def read_view(self) -> MemoryStore:
        """A copy of the store as it is now: the memory twin of a LevelDB snapshot."""
        self._check_open()
        view = MemoryStore()
        view._values = dict(self._values)
        view._keys = list(self._keys)
        return view

    def _check_open(self) -> None:
        if self._closed:
            raise StorageError("the in-memory store is closed", code="STORE_CLOSED")


class LevelDBStore:
    """A LevelDB database on disk, opened with ``LevelDBStore.open``."""

    def __init__(self, db: plyvel.DB, path: Path) -> None:
        self._db: plyvel.DB | None = db
        self.path = path

    @classmethod
    def open(cls, path: Path) -> LevelDBStore:
        """Open (creating if missing) the database in directory ``path``.

        Raises StorageError with code DATABASE_LOCKED when another process (or
        another open store in this one) holds it, DATABASE_CORRUPT when LevelDB
        finds it damaged, and DATABASE_UNAVAILABLE when it cannot be created or read.
        """
        try:
            path.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise StorageError(
                f"cannot create the database directory {path}: {error.strerror}", code="DATABASE_UNAVAILABLE"
            ) from None
        try:
            db = plyvel.DB(
                str(path),
                create_if_missing=True,
                paranoid_checks=True,
                bloom_filter_bits=BLOOM_FILTER_BITS,
                compression=None,
            )
        except plyvel.CorruptionError as error:
            raise DatabaseCorrupt(f"the database in {path} is corrupt: {_describe(error)}") from None
        except plyvel.Error as error:
            text = _describe(error)
            if "lock" in text.lower() and ("held" in text or "unavailable" in text.lower()):
                raise StorageError(
                    f"the database in {path} is in use by another process (or already open): {text}",
                    code="DATABASE_LOCKED",
                ) from None
            raise StorageError(
                f"cannot open the database in {path}: {text}", code="DATABASE_UNAVAILABLE"
            ) from None
        return cls(db, path)

    def get(self, key: bytes) -> bytes | None:
        try:
            value: bytes | None = self._get_db().get(key, verify_checksums=True)
        except (plyvel.CorruptionError, plyvel.IOError) as error:
            raise self._describe_read_error(error) from None
        return value

    def iterate(
        self,
        *,
        prefix: bytes = b"",
        start: bytes | None = None,
        stop: bytes | None = None,
        reverse: bool = False,
    ) -> Iterator[tuple[bytes, bytes]]:
        lower, upper = compute_key_range(prefix, start, stop)
        if upper is not None and lower >= upper:
            return iter(())
        # Iterators are created here, not inside a generator, so their snapshot is taken at call time.
        if reverse:
            # plyvel's own reverse iterator with both bounds misses keys in some ranges
            # (found by the contract suite: b"\x00" under prefix b"\x00"), so step back by hand.
            raw = self._get_db().raw_iterator(verify_checksums=True)
            return self._checked(_iterate_backwards(raw, lower, upper))
        iterator = self._get_db().iterator(start=lower or None, stop=upper, verify_checksums=True)
        return self._checked(_closing(iterator))

    def write(self, batch: WriteBatch, *, sync: bool = True) -> None:
        db_batch = self._get_db().write_batch(sync=sync)
        put, delete = db_batch.put, db_batch.delete
        for key, value in batch.operations:
            if value is not None:
                put(key, value)
            else:
                delete(key)
        try:
            db_batch.write()
        except plyvel.Error as error:
            raise StorageError(
                f"writing to the database in {self.path} failed: {_describe(error)}", code="WRITE_FAILED"
            ) from None

    def read_view(self) -> LevelDBReadView:
        """A LevelDB snapshot: reads through it see the store as it is now, whatever is written
        later, until it is closed (it pins old table files, so keep few and close them)."""
        return LevelDBReadView(self, self._get_db().snapshot())

    def close(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None

    def _checked(self, pairs: Iterator[tuple[bytes, bytes]]) -> Iterator[tuple[bytes, bytes]]:
        try:
            yield from pairs
        except (plyvel.CorruptionError, plyvel.IOError) as error:
            raise self._describe_read_error(error) from None

    def _describe_read_error(self, error: plyvel.Error) -> StorageError:
        text = _describe(error)
        if isinstance(error, plyvel.IOError) and "Too many open files" in text:
            message = f"cannot read the database in {self.path}: {text}"
            return StorageError(message, code="DATABASE_UNAVAILABLE")
        # A table that cannot be read where the manifest says it has data is cut short or
        # damaged (or its disk is failing): either way what it held cannot be trusted or found.
        return DatabaseCorrupt(f"the database in {self.path} is corrupt: {text}")

    def _get_db(self) -> plyvel.DB:
        if self._db is None:
            raise StorageError(f"the database in {self.path} is closed", code="STORE_CLOSED")
        return self._db


class LevelDBReadView:
    """Reads of one LevelDB snapshot, checked as the store's own reads are."""

    def __init__(self, store: LevelDBStore, snapshot: plyvel.Snapshot) -> None:
        self._store = store
        self._snapshot: plyvel.Snapshot | None = snapshot

    def get(self, key: bytes) -> bytes | None:
        try:
            value: bytes | None = self._get_snapshot().get(key, verify_checksums=True)
        except (plyvel.CorruptionError, plyvel.IOError) as error:
            raise self._store._describe_read_error(error) from None
        return value

    def iterate(
        self, *, prefix: bytes = b"", start: bytes | None = None, stop: bytes | None = None
    ) -> Iterator[tuple[bytes, bytes]]:
        lower, upper = compute_key_range(prefix, start, stop)
        if upper is not None and lower >= upper:
            return iter(())
        iterator = self._get_snapshot().iterator(start=lower or None, stop=upper, verify_checksums=True)
        return self._store._checked(_closing(iterator))

    def close(self) -> None:
        if self._snapshot is not None:
            self._snapshot.close()
            self._snapshot = None

    def _get_snapshot(self) -> plyvel.Snapshot:
        if self._snapshot is None:
            raise StorageError("the snapshot of the database is closed", code="STORE_CLOSED")
        self._store._get_db()  # a snapshot of a closed database must not be read
        return self._snapshot


def _closing(iterator: plyvel.Iterator) -> Iterator[tuple[bytes, bytes]]:
    with iterator:
        yield from iterator


def _iterate_backwards(
    raw: plyvel.RawIterator, lower: bytes, upper: bytes | None
) -> Iterator[tuple[bytes, bytes]]:
    try:
        if upper is None:
            raw.seek_to_last()
        else:
            raw.seek(upper)  # the first key >= upper, which is outside the range
            if raw.valid():
                raw.prev()
            else:
                raw.seek_to_last()
        while raw.valid():
            key: bytes = raw.key()
            if key < lower:
                return
            yield key, raw.value()
            raw.prev()
    finally:
        raw.close()


def _describe(error: Exception) -> str:
    text = error.args[0] if error.args else error
    return text.decode(errors="replace") if isinstance(text, bytes) else str(text)
