"""State snapshots: taken from a consistent read view of the store, served in chunks,
and installed as a new store's base.

Taking. At a stable height the node takes a read view of its store (a LevelDB
snapshot: later commits do not show through it) and keeps the newest few. A
snapshot is only a view and the height it was taken at; the node hashes of its
state tree are built from the view's bucket hashes the first time a chunk is
asked for, once per snapshot, so a hub nobody asks pays nothing but the pinned
table files.

Serving. Chunk ``i`` is the run of buckets ``ledger.state_tree.chunk_buckets(i)``:
its (key, value) records in key-hash order (the tree entries list the raw keys,
the values are read from the same view) and the ``CHUNK_LEVELS`` sibling hashes
that lead from the chunk's subtree to the state root, so a joining hub checks
each chunk alone with ``verify_chunk``.

Installing. ``build_base_batch`` turns verified chunks into ONE write batch
that replaces whatever chain the store held (a wiped hub holds only genesis)
by the snapshot's state, tree entries, bucket hashes, and the certified header
and certificate of its height (storage/chain_base.py). ChainStore.install_base
writes it synced: a crash before leaves the old store, to join again; after,
the joined one.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, field

from ledger.block import BlockHeader
from ledger.certificate import CommitCertificate
from ledger.state_tree import (
    BUCKETS,
    CHUNKS,
    bucket_of,
    chunk_buckets,
    chunk_siblings,
    hash_bucket,
    hash_key,
    hash_value,
)
from ledger.types import Hash, Height
from storage import schema
from storage.chain_base import put_base
from storage.errors import CorruptRecord, StorageError
from storage.kv import KeyValueStore, LevelDBStore, MemoryStore, ReadView, WriteBatch
from storage.state_tree import CommittedStateTree

SNAPSHOTS_KEPT_MAX = 4
# Every record a joined store replaces: the chain it held, and its state with the tree.
REPLACED_PREFIXES = (
    schema.BLOCK_PREFIX,
    schema.BLOCK_HASH_PREFIX,
    schema.CERTIFICATE_PREFIX,
    schema.TRANSACTION_LOCATION_PREFIX,
    schema.RECEIPT_PREFIX,
    schema.STATE_PREFIX,
    schema.STATE_ENTRY_PREFIX,
    schema.STATE_BUCKET_PREFIX,
    schema.PRUNED_HEADER_PREFIX,
    schema.UNDO_PREFIX,
)
# What a store says about its own pruning, which a snapshot's base starts over.
REPLACED_META = (schema.FIRST_BLOCK_HEIGHT_KEY, schema.FIRST_UNDO_HEIGHT_KEY, schema.PRUNED_TRANSACTIONS_KEY)

Pairs = list[tuple[bytes, bytes]]


@dataclass(frozen=True, slots=True)
class Offer:
    """What a hub offers: the snapshot of ``height``, whose state has root ``state_root``."""

    height: Height
    state_root: Hash
    chunks: int = CHUNKS


@dataclass(slots=True)
class StateSnapshot:
    """One read view of the store at ``height``, and its tree once built."""

    height: Height
    state_root: Hash
    view: ReadView
    _tree: CommittedStateTree | None = field(default=None, repr=False)

    @property
    def offer(self) -> Offer:
        return Offer(self.height, self.state_root)

    def read_chunk(self, chunk: int) -> tuple[Pairs, list[Hash]]:
        """The records of ``chunk`` in key-hash order and its sibling hashes up to the root."""
        if not 0 <= chunk < CHUNKS:
            raise StorageError(f"chunk {chunk} is outside 0..{CHUNKS - 1}", code="BAD_CHUNK")
        if self._tree is None:
            self._tree = CommittedStateTree(self.view)
            if self._tree.root != self.state_root:
                raise StorageError(
                    f"the snapshot of height {self.height} does not hash to its header's state root",
                    code="DATABASE_CORRUPT",
                )
        buckets = chunk_buckets(chunk)
        pairs = []
        for _, key in self._tree.iterate_entries(buckets.start, buckets.stop):
            value = self.view.get(schema.state_key(key))
            if value is None:
                raise CorruptRecord(schema.state_key(key), "a state tree entry names a key with no value")
            pairs.append((key, value))
        return pairs, chunk_siblings(self._tree, chunk)

    def close(self) -> None:
        self.view.close()


class SnapshotKeeper:
    """The newest ``keep`` snapshots of one store, by height."""

    def __init__(self, keep: int) -> None:
        if not 1 <= keep <= SNAPSHOTS_KEPT_MAX:
            raise ValueError(f"between 1 and {SNAPSHOTS_KEPT_MAX} snapshots may be kept, not {keep}")
        self._keep = keep
        self._snapshots: OrderedDict[int, StateSnapshot] = OrderedDict()

    def take(self, store: LevelDBStore | MemoryStore, *, height: int, state_root: Hash) -> StateSnapshot:
        """Keep a view of ``store`` taken now, at ``height`` (checked), whose state root is ``state_root``."""
        view: ReadView = store.read_view()
        stored = view.get(schema.LATEST_HEIGHT_KEY)
        if stored != schema.encode_height(height):
            view.close()
            raise StorageError(f"the store is not at height {height}", code="HEIGHT_CONFLICT")
        snapshot = StateSnapshot(Height(height), state_root, view)
        self._snapshots[height] = snapshot
        while len(self._snapshots) > self._keep:
            self._snapshots.popitem(last=False)[1].close()
        return snapshot

    def offers(self) -> list[Offer]:
        return [snapshot.offer for snapshot in reversed(self._snapshots.values())]

    def get(self, height: int) -> StateSnapshot | None:
        return self._snapshots.get(height)

    def close(self) -> None:
        for snapshot in self._snapshots.values():
            snapshot.close()
        self._snapshots.clear()


def build_base_batch(
    store: KeyValueStore, header: BlockHeader, certificate: CommitCertificate, chunks: Sequence[Pairs]
) -> WriteBatch:
    """One batch that makes ``store`` hold exactly the snapshot: its state (``chunks``, each
    already checked against ``header.state_root``), tree, and the certified header as its base."""
    if len(chunks) != CHUNKS:
        raise ValueError(f"a snapshot has {CHUNKS} chunks, not {len(chunks)}")
    if certificate.height != header.height or certificate.block_hash != header.hash:
        raise ValueError("the certificate is not the header's")
    batch = WriteBatch()
    for prefix in REPLACED_PREFIXES:
        for key, _ in store.iterate(prefix=prefix):
            batch.delete(key)
    for key in REPLACED_META:
        batch.delete(key)
    buckets: list[dict[bytes, bytes]] = [{} for _ in range(BUCKETS)]
    for pairs in chunks:
        for key, value in pairs:
            key_hash, value_hash = hash_key(key), hash_value(value)
            batch.put(schema.state_key(key), value)
            batch.put(schema.state_entry_key(key_hash), value_hash + key)
            buckets[bucket_of(key_hash)][key_hash] = value_hash
    for bucket, entries in enumerate(buckets):
        if entries:
            batch.put(schema.state_bucket_key(bucket), hash_bucket(entries))
    batch.put(schema.certificate_key(header.height), certificate.encode())
    put_base(batch, header)
    batch.put(schema.LATEST_HEIGHT_KEY, schema.encode_height(header.height))
    return batch
