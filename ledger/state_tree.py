"""The authenticated state: a bucketed Merkle tree whose root every block header carries.

Why this shape. Every state key is hashed (SHA-256, domain STATE_KEY); the first
``BUCKET_BITS`` bits of that hash pick one of 65,536 buckets. A bucket's hash covers
its entries, each the key's hash and its value's hash, sorted by key hash; a complete
binary tree over the bucket hashes (16 levels) gives the root. Against the two usual
alternatives:

- a Merkle tree over all sorted keys moves every later leaf when one key is added,
  so a block's update costs O(n), not O(changes);
- a sparse Merkle tree keyed by the 256-bit hash costs 256 hashes per changed key
  (or a compressed variant whose inner nodes must be stored and read per update).

Here a block costs one bucket hash (about 15 entries at a million accounts) plus 16
node hashes per touched bucket, held in one flat array of 131,072 hashes (4 MB); a
proof is the bucket's entries plus 16 siblings, about 1.5 KB at a million keys, and
it proves absence as simply as presence (the key's hash is not among the entries).
The price, written down: a bucket grows with the state, so past some ten million
keys proofs and bucket updates grow linearly (about 150 entries a bucket at 10^7).

Nodes are numbered as in a binary heap: the root is 1, node i has children 2i and
2i + 1, and bucket b is node ``BUCKETS + b``. A snapshot chunk is an aligned run of
``CHUNK_BUCKETS`` buckets, i.e. one subtree, so each chunk is checked alone against
the root with ``CHUNK_LEVELS`` siblings.

``StateTreeOverlay`` is the speculative tree of one proposed block, stacked on its
parent's like contracts.state.Overlay (rebase() when the parent commits).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

from ledger.hashing import Domain, get_prefixed_hasher
from ledger.types import HASH_BYTES, Hash

BUCKET_BITS = 16
BUCKETS = 1 << BUCKET_BITS
CHUNK_BITS = 8
CHUNKS = 1 << CHUNK_BITS
CHUNK_BUCKETS = BUCKETS // CHUNKS
CHUNK_LEVELS = CHUNK_BITS  # siblings from a chunk's subtree root up to the root
ENTRY_BYTES = 2 * HASH_BYTES


class StateProofError(ValueError):
    """A state proof or snapshot chunk that does not verify; the message says which part."""


_KEY = get_prefixed_hasher(Domain.STATE_KEY)
_VALUE = get_prefixed_hasher(Domain.STATE_VALUE)
_BUCKET = get_prefixed_hasher(Domain.STATE_BUCKET)
_NODE = get_prefixed_hasher(Domain.STATE_NODE)


def _hash(prefixed: hashlib._Hash, data: bytes) -> Hash:
    hasher = prefixed.copy()  # the same digest as compute_hash, without a lookup per node
    hasher.update(data)
    return Hash(hasher.digest())


def hash_key(key: bytes) -> Hash:
    return _hash(_KEY, key)


def hash_value(value: bytes) -> Hash:
    return _hash(_VALUE, value)


def bucket_of(key_hash: bytes) -> int:
    return int.from_bytes(key_hash[:2], "big") >> (16 - BUCKET_BITS)


def hash_bucket(entries: Mapping[bytes, bytes]) -> Hash:
    """Hash of one bucket: its (key hash, value hash) entries in key-hash order."""
    return _hash(_BUCKET, b"".join(k + entries[k] for k in sorted(entries)))


def hash_node(left: bytes, right: bytes) -> Hash:
    return _hash(_NODE, left + right)


def _empty_subtrees() -> list[Hash]:
    """EMPTY[d]: the hash of an empty subtree d levels above the buckets."""
    empty = [hash_bucket({})]
    for _ in range(BUCKET_BITS):
        empty.append(hash_node(empty[-1], empty[-1]))
    return empty


EMPTY = _empty_subtrees()
EMPTY_ROOT = EMPTY[BUCKET_BITS]


def level_of(node: int) -> int:
    """How many levels above the buckets heap node ``node`` sits."""
    return BUCKET_BITS + 1 - node.bit_length()


class StateTreeBase(Protocol):
    """The committed tree a speculative one reads through (storage implements it)."""

    def get_node(self, node: int) -> Hash: ...

    def get_bucket(self, bucket: int) -> dict[bytes, bytes]:
        """A fresh copy of the bucket's entries, key hash -> value hash."""
        ...


class StateTreeOverlay:
    """The tree after one block's changes, read through its parent's tree down to the base."""

    def __init__(self, parent: StateTreeBase | StateTreeOverlay) -> None:
        self._parent = parent
        self.nodes: dict[int, Hash] = {}
        self.buckets: dict[int, dict[bytes, bytes]] = {}

    def rebase(self, parent: StateTreeBase) -> None:
        """Read through ``parent``, which the caller vouches holds the old parent's tree."""
        self._parent = parent

    @property
    def parent(self) -> StateTreeBase | StateTreeOverlay:
        return self._parent

    def get_node(self, node: int) -> Hash:
        tree: StateTreeBase | StateTreeOverlay = self
        while isinstance(tree, StateTreeOverlay):  # a loop, not recursion: replays stack many
            found = tree.nodes.get(node)
            if found is not None:
                return found
            tree = tree._parent
        return tree.get_node(node)

    def get_bucket(self, bucket: int) -> dict[bytes, bytes]:
        tree: StateTreeBase | StateTreeOverlay = self
        while isinstance(tree, StateTreeOverlay):
            found = tree.buckets.get(bucket)
            if found is not None:
                return dict(found)
            tree = tree._parent
        return tree.get_bucket(bucket)

    def depth(self) -> int:
        depth, tree = 1, self._parent
        while isinstance(tree, StateTreeOverlay):
            depth, tree = depth + 1, tree._parent
        return depth

    def flattened(self) -> StateTreeOverlay:
        """One overlay holding this chain's nodes and buckets, on the same base."""
        chain: list[StateTreeOverlay] = []
        tree: StateTreeBase | StateTreeOverlay = self
        while isinstance(tree, StateTreeOverlay):
            chain.append(tree)
            tree = tree._parent
        flat = StateTreeOverlay(tree)
        for overlay in reversed(chain):
            flat.nodes.update(overlay.nodes)
            flat.buckets.update(overlay.buckets)
        return flat

    def absorb(self, child: StateTreeOverlay) -> None:
        """Take in the changes of an overlay stacked directly on this one (a replay keeps one)."""
        if child.parent is not self:
            raise ValueError("only a child overlay can be absorbed")
        self.nodes.update(child.nodes)
        self.buckets.update(child.buckets)

    @property
    def root(self) -> Hash:
        return self.get_node(1)

    def apply(self, changes: Iterable[tuple[bytes, bytes | None]]) -> Hash:
        """Record a block's writes (None deletes) and return the new root."""
        for key, value in changes:
            key_hash = hash_key(key)
            bucket = bucket_of(key_hash)
            entries = self.buckets.get(bucket)
            if entries is None:
                entries = self.buckets[bucket] = self._parent.get_bucket(bucket)
            if value is None:
                entries.pop(key_hash, None)
            else:
                entries[key_hash] = hash_value(value)
        nodes = self.nodes
        touched = {BUCKETS + bucket for bucket in self.buckets}
        for node in touched:
            nodes[node] = hash_bucket(self.buckets[node - BUCKETS])
        # A block touches a few hundred nodes and reads their siblings: look those up in one
        # dict of what the speculative ancestors changed, then in the base, rather than walking
        # the chain of overlays for each (that walk was most of a block's cost at 1,000 tx/s).
        inherited, base_node = self._ancestors_nodes()
        while touched and touched != {1}:
            touched = {node >> 1 for node in touched}
            for node in touched:
                left, right = 2 * node, 2 * node + 1
                hasher = _NODE.copy()  # hash_node, inlined: this loop is most of a block's tree
                hasher.update(nodes.get(left) or inherited.get(left) or base_node(left))
                hasher.update(nodes.get(right) or inherited.get(right) or base_node(right))
                nodes[node] = Hash(hasher.digest())
        return self.get_node(1)

    def _ancestors_nodes(self) -> tuple[dict[int, Hash], Callable[[int], Hash]]:
        """The nodes the overlays below this one changed (the nearest wins), and the base's getter."""
        chain: list[StateTreeOverlay] = []
        tree = self._parent
        while isinstance(tree, StateTreeOverlay):
            chain.append(tree)
            tree = tree._parent
        if len(chain) == 1:
            return chain[0].nodes, tree.get_node
        inherited: dict[int, Hash] = {}
        for overlay in reversed(chain):
            inherited.update(overlay.nodes)
        return inherited, tree.get_node


def compute_root(pairs: Iterable[tuple[bytes, bytes]]) -> Hash:
    """The root of a whole state given as (key, value) pairs (genesis, checks, tests)."""
    return StateTreeOverlay(EmptyTree()).apply(pairs)


class StateTree:
    """A whole state's tree in memory, advanced block by block (audits, replays, tests)."""

    def __init__(self, pairs: Iterable[tuple[bytes, bytes]] = ()) -> None:
        self._tree = StateTreeOverlay(EmptyTree())
        self._tree.apply(pairs)

    @property
    def root(self) -> Hash:
        return self._tree.root

    def preview(self, changes: Iterable[tuple[bytes, bytes | None]]) -> Hash:
        """The root after ``changes``, leaving this tree as it is."""
        return StateTreeOverlay(self._tree).apply(changes)

    def apply(self, changes: Iterable[tuple[bytes, bytes | None]]) -> Hash:
        child = StateTreeOverlay(self._tree)
        root = child.apply(changes)
        self._tree.absorb(child)
        return root

    def prove(self, key: bytes, value: bytes | None) -> StateProof:
        return build_state_proof(self._tree, key, value)


class EmptyTree:
    def get_node(self, node: int) -> Hash:
        return EMPTY[level_of(node)]

    def get_bucket(self, bucket: int) -> dict[bytes, bytes]:
        return {}


def siblings_of(tree: StateTreeBase | StateTreeOverlay, node: int, top: int = 1) -> list[Hash]:
    """Sibling hashes from ``node`` up to (not including) heap node ``top``."""
    path = []
    while node > top:
        path.append(tree.get_node(node ^ 1))
        node >>= 1
    return path


def fold_path(node: int, value: bytes, siblings: Sequence[bytes]) -> bytes:
    """Hash ``value`` (the hash at heap node ``node``) up through ``siblings``."""
    for sibling in siblings:
        value = hash_node(sibling, value) if node & 1 else hash_node(value, sibling)
        node >>= 1
    return value


@dataclass(frozen=True)
class StateProof:
    """One key's record (or its absence) under a state root: its bucket and the path up."""

    key: bytes
    value: bytes | None
    entries: dict[bytes, bytes]  # the whole bucket: key hash -> value hash
    siblings: tuple[Hash, ...]


def build_state_proof(tree: StateTreeBase | StateTreeOverlay, key: bytes, value: bytes | None) -> StateProof:
    bucket = bucket_of(hash_key(key))
    return StateProof(key, value, tree.get_bucket(bucket), tuple(siblings_of(tree, BUCKETS + bucket)))


def verify_state_proof(root: bytes, proof: StateProof) -> None:
    """Raise StateProofError unless ``proof`` shows ``proof.value`` under key ``proof.key``
    (absence when None) in the state whose root is ``root``."""
    key_hash = hash_key(proof.key)
    if len(proof.siblings) != BUCKET_BITS or any(len(s) != HASH_BYTES for s in proof.siblings):
        raise StateProofError(f"a state proof has {BUCKET_BITS} sibling hashes of {HASH_BYTES} bytes")
    bucket = bucket_of(key_hash)
    for entry_key, entry_value in proof.entries.items():
        if len(entry_key) != HASH_BYTES or len(entry_value) != HASH_BYTES:
            raise StateProofError("a bucket entry is a 32-byte key hash and a 32-byte value hash")
        if bucket_of(entry_key) != bucket:
            raise StateProofError("the bucket holds an entry that belongs to another bucket")
    stored = proof.entries.get(key_hash)
    if proof.value is None and stored is not None:
        raise StateProofError("the key is present in the state, but the proof claims it is absent")
    if proof.value is not None and stored != hash_value(proof.value):
        raise StateProofError("the record differs from the one the state commits to")
    if fold_path(BUCKETS + bucket, hash_bucket(proof.entries), proof.siblings) != root:
        raise StateProofError("the proof does not lead to the state root of the header")


def chunk_buckets(chunk: int) -> range:
    return range(chunk * CHUNK_BUCKETS, (chunk + 1) * CHUNK_BUCKETS)


def chunk_of(key: bytes) -> int:
    return bucket_of(hash_key(key)) // CHUNK_BUCKETS


def chunk_siblings(tree: StateTreeBase | StateTreeOverlay, chunk: int) -> list[Hash]:
    return siblings_of(tree, CHUNKS + chunk)


def verify_chunk(
    root: bytes, chunk: int, pairs: Sequence[tuple[bytes, bytes]], siblings: Sequence[bytes]
) -> None:
    """Raise StateProofError unless ``pairs`` are exactly the state's records in ``chunk``."""
    if not 0 <= chunk < CHUNKS:
        raise StateProofError(f"chunk {chunk} is outside 0..{CHUNKS - 1}")
    if len(siblings) != CHUNK_LEVELS:
        raise StateProofError(f"a chunk proof has {CHUNK_LEVELS} sibling hashes")
    subtree = StateTreeOverlay(EmptyTree())
    for key, _ in pairs:
        if chunk_of(key) != chunk:
            raise StateProofError(f"key {key.hex()} does not belong to chunk {chunk}")
    if len({key for key, _ in pairs}) != len(pairs):
        raise StateProofError("a chunk lists one key twice")
    subtree.apply(pairs)
    if fold_path(CHUNKS + chunk, subtree.get_node(CHUNKS + chunk), siblings) != root:
        raise StateProofError(f"chunk {chunk} does not lead to the state root of the header")
