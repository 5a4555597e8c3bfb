"""SHA-256 with domain separation, and Merkle trees over transaction ids and receipts.

Each kind of hashed object gets its own tag, prefixed with its length, so a
transaction id, a block hash, a Merkle leaf and a Merkle node can never be the
same digest of different things (a leaf can never pose as an inner node).
"""

import hashlib
from collections.abc import Sequence
from enum import Enum

from ledger.types import Hash


class Domain(Enum):
    TRANSACTION = b"hubledger/transaction"
    BLOCK = b"hubledger/block"
    MERKLE_LEAF = b"hubledger/merkle-leaf"
    MERKLE_NODE = b"hubledger/merkle-node"
    MERKLE_EMPTY = b"hubledger/merkle-empty"
    STATE_KEY = b"hubledger/state-key"
    STATE_VALUE = b"hubledger/state-value"
    STATE_BUCKET = b"hubledger/state-bucket"
    STATE_NODE = b"hubledger/state-node"
    GENESIS = b"hubledger/genesis"
    ADDRESS = b"hubledger/address"


def compute_hash(domain: Domain, data: bytes) -> Hash:
    hasher = _PREFIXED[domain].copy()  # each transaction is hashed several times: reuse the prefix
    hasher.update(data)
    return Hash(hasher.digest())


_PREFIXED = {domain: hashlib.sha256(bytes([len(domain.value)]) + domain.value) for domain in Domain}


def get_prefixed_hasher(domain: Domain) -> "hashlib._Hash":
    """The hasher that has taken ``domain``'s tag: ``copy()`` it, feed it the data, and the digest
    is compute_hash(domain, data). For hot loops (the state tree hashes a million nodes at start)
    that should not look the domain up each time."""
    return _PREFIXED[domain]


def compute_merkle_root(leaves: Sequence[bytes]) -> Hash:
    """Root of a binary Merkle tree; an odd node is promoted, never duplicated
    (duplication lets two different lists share a root, as CVE-2012-2459 showed)."""
    if not leaves:
        return compute_hash(Domain.MERKLE_EMPTY, b"")
    level = [compute_hash(Domain.MERKLE_LEAF, leaf) for leaf in leaves]
    while len(level) > 1:
        level = _next_level(level)
    return level[0]


def compute_merkle_path(leaves: Sequence[bytes], index: int) -> list[tuple[bool, Hash]]:
    """Sibling hashes from leaf ``index`` up to the root; the flag says the sibling is on the left."""
    if not 0 <= index < len(leaves):
        raise IndexError(f"leaf {index} is outside a tree of {len(leaves)} leaves")
    level = [compute_hash(Domain.MERKLE_LEAF, leaf) for leaf in leaves]
    path: list[tuple[bool, Hash]] = []
    while len(level) > 1:
        sibling = index ^ 1
        if sibling < len(level):
            path.append((sibling < index, level[sibling]))
        level = _next_level(level)
        index //= 2
    return path


def compute_merkle_path_sides(leaf_count: int, index: int) -> list[bool]:
    """The sibling-on-the-left flags of leaf ``index``'s path in a tree of ``leaf_count`` leaves.

    A path whose flags are these is the path of that very leaf: a verifier that knows the
    leaf count (a header's transaction_count) binds a path to one position with it, so a
    proof cannot pair one leaf with another leaf's position (a receipt with another
    transaction of the same block)."""
    if not 0 <= index < leaf_count:
        raise IndexError(f"leaf {index} is outside a tree of {leaf_count} leaves")
    sides: list[bool] = []
    while leaf_count > 1:
        sibling = index ^ 1
        if sibling < leaf_count:  # the last node of an odd level has no sibling: it is promoted
            sides.append(sibling < index)
        leaf_count = (leaf_count + 1) // 2
        index //= 2
    return sides


def compute_root_from_path(leaf: bytes, path: Sequence[tuple[bool, bytes]]) -> Hash:
    node = compute_hash(Domain.MERKLE_LEAF, leaf)
    for sibling_on_left, sibling in path:
        pair = sibling + node if sibling_on_left else node + sibling
        node = compute_hash(Domain.MERKLE_NODE, pair)
    return node


def _next_level(level: list[Hash]) -> list[Hash]:
    parents = [
        compute_hash(Domain.MERKLE_NODE, level[index] + level[index + 1])
        for index in range(0, len(level) - 1, 2)
    ]
    if len(level) % 2:
        parents.append(level[-1])
    return parents

