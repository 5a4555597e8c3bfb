"""Undo records: what each block's writes overwrote, so the state of an earlier height can be
rebuilt from the latest state.

A pruning hub drops old block bodies, so nobody can re-execute its chain from genesis; what
an auditor can still check is the header chain and certificates from genesis, then the
state at the first kept block (its root is in a certified header), then every kept block
re-executed from there. That state is the latest state with the kept blocks undone: for
each kept block, its undo record lists every key it wrote with the value it found (None:
the key was absent). Undo records are written in the block's own batch, from the first
block committed with pruning on (``FIRST_UNDO_HEIGHT_KEY``), and pruned with the bodies.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Iterator, Sequence

from ledger import cbor
from ledger.errors import DecodeError
from ledger.types import Height
from storage import schema
from storage.errors import CorruptRecord, StorageError
from storage.kv import KeyValueStore

UNDO_BYTES_MAX = 64 * 1024 * 1024

Changes = Sequence[tuple[bytes, bytes | None]]


def compute_undo(changes: Changes, read: Callable[[bytes], bytes | None]) -> bytes:
    """The undo record of a block's ``changes``, reading what they overwrite with ``read``."""
    return cbor.encode([[key, read(key)] for key, _ in sorted(changes, key=lambda change: change[0])])


def decode_undo(key: bytes, data: bytes) -> list[tuple[bytes, bytes | None]]:
    try:
        value = cbor.decode(data, bytes_max=UNDO_BYTES_MAX)
    except DecodeError as error:
        raise CorruptRecord(key, error.message) from None
    if not isinstance(value, list) or not all(_is_undo_pair(pair) for pair in value):
        raise CorruptRecord(key, "an undo record is a list of [key, old value or null]")
    return [(pair[0], pair[1]) for pair in value]


def _is_undo_pair(pair: object) -> bool:
    return (
        isinstance(pair, list)
        and len(pair) == 2
        and isinstance(pair[0], bytes)
        and (pair[1] is None or isinstance(pair[1], bytes))
    )


def first_undo_height(kv: KeyValueStore) -> Height | None:
    data = kv.get(schema.FIRST_UNDO_HEIGHT_KEY)
    return None if data is None else schema.decode_height(data)


def iterate_state_at(kv: KeyValueStore, height: int, latest: int) -> Iterator[tuple[bytes, bytes]]:
    """Every (key, value) of the state after block ``height``, in key order, rebuilt from the
    state after ``latest`` and the undo records of the blocks in between. Everything is read
    as of this call (undo records now, the state through an iterator opened now), so commits
    while the caller consumes it change nothing. Raises StorageError STATE_NOT_RETAINED when
    an undo record it needs is not kept."""
    first = first_undo_height(kv)
    if height < latest and (first is None or height + 1 < first):
        where = "none are kept" if first is None else f"they start at block {first}"
        raise StorageError(
            f"the state at height {height} cannot be rebuilt: it needs the undo records of blocks "
            f"{height + 1} to {latest}, and {where}",
            code="STATE_NOT_RETAINED",
        )
    before: dict[bytes, bytes | None] = {}
    for undone in range(latest, height, -1):  # the oldest block's record is applied last
        key = schema.undo_key(undone)
        data = kv.get(key)
        if data is None:
            raise StorageError(f"the undo record of block {undone} is missing", code="STATE_NOT_RETAINED")
        before.update(decode_undo(key, data))
    skip = len(schema.STATE_PREFIX)
    current = kv.iterate(prefix=schema.STATE_PREFIX)  # opened now: the state as of this call
    kept = ((key[skip:], value) for key, value in current if key[skip:] not in before)
    restored = sorted((key, value) for key, value in before.items() if value is not None)
    return heapq.merge(kept, restored)  # no key is in both, so tuples compare by key alone
