"""Undo records: what each block's writes overwrote, so the state of an earlier height can be
rebuilt from the latest state.

Two readers need the state of an earlier height. A pruning hub drops old block bodies, so
nobody can re-execute its chain from genesis; what an auditor can still check is the header
chain and certificates from genesis, then the state at the first kept block (its root is in
a certified header), then every kept block re-executed from there. And a proof of an
account at a recent height (node/state_proofs.py) needs that height's values and tree.

That state is the latest state with the later blocks undone: for each block, its undo
record lists every key it wrote with the value it found (None: the key was absent).

Invariant: undo records exist for every block from ``FIRST_UNDO_HEIGHT_KEY`` to the latest
(absent key: none are claimed). They are written in the block's own batch, which also keeps
the key true (``mark_undo_run``): a store that keeps them starts a new run when it has none
or its run broke while it kept none, and a store that keeps none drops the key. Records
below the run go with pruned bodies or are trimmed once older than the hub's state history
(``trim_undo_below``), which also drops records left outside the run. A reader checks that
the state it rebuilt has the state root of its certified header (node/state_proofs.py).
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Iterator, Sequence

from ledger import cbor
from ledger.errors import DecodeError
from ledger.state_tree import StateProof, StateTreeOverlay, build_state_proof
from ledger.types import Hash, Height
from storage import schema
from storage.errors import CorruptRecord, StorageError
from storage.kv import KeyValueStore, ReadView, WriteBatch
from storage.state_tree import CommittedStateTree

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


def first_undo_height(kv: ReadView) -> Height | None:
    return schema.read_height(kv, schema.FIRST_UNDO_HEIGHT_KEY)


def read_undone(
    kv: ReadView, height: int, latest: int, *, stopping: Callable[[], bool] = lambda: False
) -> dict[bytes, bytes | None]:
    """The value after block ``height`` (None: absent) of every key that blocks ``height`` + 1
    to ``latest`` wrote; every other key has its latest value. Raises StorageError
    STATE_NOT_RETAINED when an undo record it needs is not kept, STORE_CLOSED once
    ``stopping`` says so (the store is about to close under it)."""
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
        if stopping():
            stopped = "the rebuild of an earlier state was stopped: the store is closing"
            raise StorageError(stopped, code="STORE_CLOSED")
        key = schema.undo_key(undone)
        data = kv.get(key)
        if data is None:
            raise StorageError(f"the undo record of block {undone} is missing", code="STATE_NOT_RETAINED")
        before.update(decode_undo(key, data))
    return before


def mark_undo_run(kv: ReadView, batch: WriteBatch, latest: int, *, keep_undo: bool) -> None:
    """Keep ``FIRST_UNDO_HEIGHT_KEY`` true in the batch that commits the block after ``latest``:
    a store that keeps undo records starts a new run when it has none or its run is broken
    (it kept none for a while); one that keeps none claims none, whatever records remain."""
    first = first_undo_height(kv)
    if keep_undo:
        if first is None or (first <= latest and kv.get(schema.undo_key(latest)) is None):
            batch.put(schema.FIRST_UNDO_HEIGHT_KEY, schema.encode_height(latest + 1))
    elif first is not None:
        batch.delete(schema.FIRST_UNDO_HEIGHT_KEY)


def trim_undo_below(kv: KeyValueStore, height: int, *, blocks_max: int) -> int:
    """Drop the undo records of blocks below ``height``, and any below the run (left from one
    that broke), at most ``blocks_max``, oldest first; returns how many. Not synced: a trim
    lost in a crash is done again after the next commit."""
    first = first_undo_height(kv)
    if first is not None:  # records below the run are left from a broken one: never read, dropped
        height = max(height, first)
    if height <= 1:  # no block is below the first: a young chain's history is all of it
        return 0
    batch = WriteBatch()
    trimmed = 0
    last = -1
    skip = len(schema.UNDO_PREFIX)
    for key, _ in kv.iterate(prefix=schema.UNDO_PREFIX, stop=schema.undo_key(height)):
        if trimmed == blocks_max:
            break
        batch.delete(key)
        trimmed += 1
        try:
            last = schema.decode_height(key[skip:])
        except ValueError:
            raise CorruptRecord(key, "an undo record's key is its prefix and an 8-byte height") from None
    if first is not None and last + 1 > first:
        batch.put(schema.FIRST_UNDO_HEIGHT_KEY, schema.encode_height(last + 1))
    if trimmed:
        kv.write(batch, sync=False)
    return trimmed


def iterate_state_at(kv: KeyValueStore, height: int, latest: int) -> Iterator[tuple[bytes, bytes]]:
    """Every (key, value) of the state after block ``height``, in key order, rebuilt from the
    state after ``latest`` and the undo records of the blocks in between. Everything is read
    as of this call (undo records now, the state through an iterator opened now), so commits
    while the caller consumes it change nothing. Raises StorageError STATE_NOT_RETAINED when
    an undo record it needs is not kept."""
    before = read_undone(kv, height, latest)
    skip = len(schema.STATE_PREFIX)
    current = kv.iterate(prefix=schema.STATE_PREFIX)  # opened now: the state as of this call
    kept = ((key[skip:], value) for key, value in current if key[skip:] not in before)
    restored = sorted((key, value) for key, value in before.items() if value is not None)
    return heapq.merge(kept, restored)  # no key is in both, so tuples compare by key alone


def prove_state_at(
    view: ReadView, height: int, keys: Sequence[bytes], *, stopping: Callable[[], bool] = lambda: False
) -> tuple[Hash, list[StateProof]]:
    """Proofs of ``keys`` in the state after block ``height``, below the latest, and the root
    they lead to: the latest tree and values of one snapshot of the store with the later
    blocks undone. Reading one snapshot, it may run in a thread while blocks commit. The
    caller checks the root against block ``height``'s certified header."""
    latest = schema.read_height(view, schema.LATEST_HEIGHT_KEY) or 0
    if not 0 <= height < latest:
        raise StorageError(f"height {height} is not below the latest, {latest}", code="UNKNOWN_HEIGHT")
    undone = read_undone(view, height, latest, stopping=stopping)
    tree = StateTreeOverlay(CommittedStateTree(view))
    root = tree.apply(undone.items())
    proofs = []
    for key in keys:
        value = undone[key] if key in undone else view.get(schema.state_key(key))
        proofs.append(build_state_proof(tree, key, value))
    return root, proofs
