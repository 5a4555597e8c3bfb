"""The key-value state the contracts execute over, and the overlay that buffers writes.

Contracts never touch storage. They read through a ``StateReader`` (the
committed LevelDB state, an in-memory dict, or another overlay) and write into
an ``Overlay``. An overlay records every write with a journal, so a failed
transaction is undone by ``revert(snapshot)``, and an overlay is itself a
reader, so block N + 1 can execute speculatively on top of block N's overlay
before either is committed. ``changes()`` lists the writes sorted by key: that
list is what the state digest hashes and what storage writes in one batch.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Protocol, runtime_checkable


@runtime_checkable
class StateReader(Protocol):
    def get(self, key: bytes) -> bytes | None: ...


@runtime_checkable
class StateScanner(StateReader, Protocol):
    def iterate(self, prefix: bytes) -> Iterator[tuple[bytes, bytes]]:
        """Every (key, value) whose key starts with ``prefix``, in ascending key order."""
        ...


class DictState:
    """A plain in-memory state: the simplest reader and scanner, for tests and simulation."""

    def __init__(self, items: Iterable[tuple[bytes, bytes]] = ()) -> None:
        self._items: dict[bytes, bytes] = dict(items)

    def get(self, key: bytes) -> bytes | None:
        return self._items.get(key)

    def iterate(self, prefix: bytes) -> Iterator[tuple[bytes, bytes]]:
        for key in sorted(self._items):
            if key.startswith(prefix):
                yield key, self._items[key]

    def apply_changes(self, changes: Iterable[tuple[bytes, bytes | None]]) -> None:
        for key, value in changes:
            if value is None:
                self._items.pop(key, None)
            else:
                self._items[key] = value

    def __len__(self) -> int:
        return len(self._items)


class Overlay:
    """Buffered writes over a parent reader, with snapshots for rollback."""

    def __init__(self, parent: StateReader) -> None:
        self._parent = parent
        self._writes: dict[bytes, bytes | None] = {}
        # (key, whether it had a write, the write it replaced): enough to undo back to a snapshot
        self._journal: list[tuple[bytes, bool, bytes | None]] = []

    @property
    def parent(self) -> StateReader:
        return self._parent

    def rebase(self, parent: StateReader) -> None:
        """Read through ``parent`` from now on: the caller vouches that it holds the same state
        as the old parent (the old parent's block has just been committed into it), so a
        chain of speculative overlays stays one deep instead of growing with every block."""
        self._parent = parent

    def get(self, key: bytes) -> bytes | None:
        if key in self._writes:
            return self._writes[key]
        return self._parent.get(key)

    def depth(self) -> int:
        """How many overlays a read that misses them all walks through, this one included."""
        depth, reader = 0, self._parent
        while isinstance(reader, Overlay):
            depth, reader = depth + 1, reader._parent
        return depth + 1

    def flattened(self) -> Overlay:
        """One overlay, over the first reader below this chain of overlays, holding the chain's
        writes: it reads exactly as this one does, one lookup deep instead of ``depth()``."""
        chain: list[Overlay] = []
        reader: StateReader = self
        while isinstance(reader, Overlay):
            chain.append(reader)
            reader = reader._parent
        flat = Overlay(reader)
        for overlay in reversed(chain):
            flat._writes.update(overlay._writes)
        return flat

    def put(self, key: bytes, value: bytes) -> None:
        if not isinstance(key, bytes) or not isinstance(value, bytes):
            raise TypeError("state keys and values are bytes")
        self._record(key, value)

    def delete(self, key: bytes) -> None:
        if not isinstance(key, bytes):
            raise TypeError("state keys are bytes")
        self._record(key, None)

    def _record(self, key: bytes, value: bytes | None) -> None:
        self._journal.append((key, key in self._writes, self._writes.get(key)))
        self._writes[key] = value

    def snapshot(self) -> int:
        return len(self._journal)

    def revert(self, snapshot: int) -> None:
        if not 0 <= snapshot <= len(self._journal):
            raise ValueError(f"snapshot {snapshot} is not from this overlay's history")
        while len(self._journal) > snapshot:
            key, had_write, previous = self._journal.pop()
            if had_write:
                self._writes[key] = previous
            else:
                del self._writes[key]

    def forget_history(self) -> None:
        """Drop the undo journal (earlier snapshots become invalid) once no rollback can follow."""
        self._journal.clear()

    def changes(self) -> list[tuple[bytes, bytes | None]]:
        return sorted(self._writes.items(), key=lambda change: change[0])

    def commit_into(self, parent: Overlay) -> None:
        """Replay this overlay's writes into ``parent`` (normally the overlay it reads from)."""
        for key, value in self.changes():
            if value is None:
                parent.delete(key)
            else:
                parent.put(key, value)

    def iterate(self, prefix: bytes) -> Iterator[tuple[bytes, bytes]]:
        """Merge the parent's entries under ``prefix`` with this overlay's writes, in key order."""
        if not isinstance(self._parent, StateScanner):
            raise TypeError("this overlay's parent state cannot be scanned by prefix")
        merged: dict[bytes, bytes | None] = dict(self._parent.iterate(prefix))
        for key, value in self._writes.items():
            if key.startswith(prefix):
                merged[key] = value
        for key in sorted(merged):
            value = merged[key]
            if value is not None:
                yield key, value
