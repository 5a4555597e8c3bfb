"""The committed state tree (ledger/state_tree.py) kept beside the state it authenticates.

On disk, every state key has an entry under its key hash holding its value's hash and
the raw key (so a snapshot chunk can list its records in key-hash order), and every
non-empty bucket its hash; both are written in the block's own batch, so the tree on
disk is always the tree of the latest committed block. In memory: the 131,072 node
hashes (rebuilt from the bucket hashes at start, 65,535 hashes) and the entries of
recently touched buckets.

Invariant (checked by ``find_problems`` at every start, storage/integrity.py): each stored
bucket hash is the hash of the bucket's stored entries, and the root is the state root of
the latest header. (That each entry is the hash of the stored state value is kept by
writing both in one batch, and shown by tests; the start-up check does not read the state.)
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable, Iterator, Sequence

from ledger import state_tree
from ledger.state_tree import BUCKETS, EMPTY, StateTreeOverlay, hash_key, hash_node
from ledger.types import HASH_BYTES, Hash
from storage import schema
from storage.errors import CorruptRecord
from storage.kv import ReadView, WriteBatch

BUCKET_CACHE_MAX = 20_000

if state_tree.BUCKET_BITS != 16:
    raise ImportError("a state bucket key on disk is two bytes: BUCKET_BITS must be 16")


class CommittedStateTree:
    """The state tree of the latest committed block: the base every speculative tree reads."""

    def __init__(self, kv: ReadView, *, bucket_cache_max: int = BUCKET_CACHE_MAX) -> None:
        self._kv = kv
        self._nodes: list[Hash] | None = None  # loaded on first use: a fresh store has no tree yet
        self._buckets: OrderedDict[int, dict[bytes, bytes]] = OrderedDict()
        self._bucket_cache_max = bucket_cache_max

    @property
    def root(self) -> Hash:
        return self.get_node(1)

    def get_node(self, node: int) -> Hash:
        if self._nodes is None:
            self._nodes = self._load_nodes()
        return self._nodes[node]

    def get_bucket(self, bucket: int) -> dict[bytes, bytes]:
        cached = self._buckets.get(bucket)
        if cached is None:
            cached = self._read_bucket(bucket)
            self._cache_bucket(bucket, cached)
        else:
            self._buckets.move_to_end(bucket)
        return dict(cached)

    def iterate_entries(self, first_bucket: int, end_bucket: int) -> Iterator[tuple[bytes, bytes]]:
        """(key hash, raw key) of every state key in buckets [first, end), in key-hash order."""
        start = schema.state_entry_key(first_bucket.to_bytes(2, "big"))
        stop = schema.state_entry_key(end_bucket.to_bytes(2, "big")) if end_bucket < BUCKETS else None
        skip = len(schema.STATE_ENTRY_PREFIX)
        for key, value in self._kv.iterate(prefix=schema.STATE_ENTRY_PREFIX, start=start, stop=stop):
            yield key[skip:], value[HASH_BYTES:]

    def write(
        self, batch: WriteBatch, overlay: StateTreeOverlay, changes: Sequence[tuple[bytes, bytes | None]]
    ) -> None:
        """Add a staged block's entries and bucket hashes to its commit batch."""
        for key, value in changes:
            entry_key = schema.state_entry_key(hash_key(key))
            if value is None:
                batch.delete(entry_key)
            else:
                batch.put(entry_key, state_tree.hash_value(value) + key)
        for bucket, entries in overlay.buckets.items():
            if entries:
                batch.put(schema.state_bucket_key(bucket), overlay.get_node(BUCKETS + bucket))
            else:
                batch.delete(schema.state_bucket_key(bucket))

    def absorb(self, overlay: StateTreeOverlay) -> None:
        """Make a staged tree the committed one, once its batch is on disk."""
        if self._nodes is None:
            self._nodes = self._load_nodes()
        for node, value in overlay.nodes.items():
            self._nodes[node] = value
        for bucket, entries in overlay.buckets.items():
            self._cache_bucket(bucket, dict(entries))

    def find_problems(self, expected_root: Hash) -> list[str]:
        """What is wrong with the stored tree (empty when nothing is): every bucket's stored hash
        must be the hash of its stored entries, and the root the latest header's. Reads every
        entry once (the start-up check, storage/integrity.py); it does not read the state."""
        stored = dict(self._iterate_bucket_hashes())
        computed: dict[int, Hash] = {}
        skip = len(schema.STATE_ENTRY_PREFIX)
        bucket, entries = -1, dict[bytes, bytes]()
        for key, value in self._kv.iterate(prefix=schema.STATE_ENTRY_PREFIX):
            key_hash = key[skip:]
            if (
                len(key_hash) != HASH_BYTES
                or len(value) < HASH_BYTES
                or hash_key(value[HASH_BYTES:]) != key_hash
            ):
                return [f"the state tree entry under {key.hex()} is not a key hash, a value hash and its key"]
            if state_tree.bucket_of(key_hash) != bucket:
                if entries:
                    computed[bucket] = state_tree.hash_bucket(entries)
                bucket, entries = state_tree.bucket_of(key_hash), {}
            entries[key_hash] = value[:HASH_BYTES]
        if entries:
            computed[bucket] = state_tree.hash_bucket(entries)
        wrong = sorted(b for b in stored.keys() | computed.keys() if stored.get(b) != computed.get(b))
        if wrong:
            return [f"{len(wrong)} state buckets (first {wrong[0]}) do not hash to their stored entries"]
        if _build_nodes(stored.items())[1] != expected_root:  # the bucket hashes just read
            return ["the stored state tree's root is not the state root of the latest block"]
        return []

    def _iterate_bucket_hashes(self) -> Iterator[tuple[int, Hash]]:
        skip = len(schema.STATE_BUCKET_PREFIX)
        for key, value in self._kv.iterate(prefix=schema.STATE_BUCKET_PREFIX):
            if len(key) != skip + 2 or len(value) != HASH_BYTES:
                raise CorruptRecord(key, "a state bucket record is a 2-byte bucket and a 32-byte hash")
            yield int.from_bytes(key[skip:], "big"), Hash(value)

    def _load_nodes(self) -> list[Hash]:
        return _build_nodes(self._iterate_bucket_hashes())

    def _read_bucket(self, bucket: int) -> dict[bytes, bytes]:
        skip = len(schema.STATE_ENTRY_PREFIX)
        entries = {}
        for key, value in self._kv.iterate(prefix=schema.state_entry_key(bucket.to_bytes(2, "big"))):
            if len(key) != skip + HASH_BYTES or len(value) < HASH_BYTES:
                raise CorruptRecord(key, "a state tree entry is a key hash and a value hash")
            entries[key[skip:]] = value[:HASH_BYTES]
        return entries

    def _cache_bucket(self, bucket: int, entries: dict[bytes, bytes]) -> None:
        self._buckets.pop(bucket, None)
        self._buckets[bucket] = entries
        while len(self._buckets) > self._bucket_cache_max:
            self._buckets.popitem(last=False)


def _build_nodes(bucket_hashes: Iterable[tuple[int, Hash]]) -> list[Hash]:
    """Every node hash of the tree whose non-empty buckets hash as given, in heap order."""
    nodes = [EMPTY[0]]  # node 0 is unused; each level starts as an empty subtree's hashes
    for level in range(state_tree.BUCKET_BITS, -1, -1):
        nodes.extend([EMPTY[level]] * (1 << (state_tree.BUCKET_BITS - level)))
    dirty = set()
    for bucket, value in bucket_hashes:
        nodes[BUCKETS + bucket] = value
        dirty.add((BUCKETS + bucket) >> 1)
    while dirty:  # only the paths above stored buckets: a small state costs little to load
        for node in dirty:
            nodes[node] = hash_node(nodes[2 * node], nodes[2 * node + 1])
        dirty = {node >> 1 for node in dirty if node > 1}
    return nodes
