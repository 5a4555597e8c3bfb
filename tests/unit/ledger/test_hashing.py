"""Domain-separated hashing, Merkle roots and paths, and the state digest."""

from __future__ import annotations

import hashlib

import pytest

from ledger.hashing import (
    Domain,
    compute_hash,
    compute_merkle_path,
    compute_merkle_path_sides,
    compute_merkle_root,
    compute_root_from_path,
)


def make_leaves(count: int) -> list[bytes]:
    return [hashlib.sha256(b"tx %d" % index).digest() for index in range(count)]


def test_domains_separate_equal_bytes() -> None:
    digests = {compute_hash(domain, b"same bytes") for domain in Domain}
    assert len(digests) == len(Domain)
    assert len({domain.value for domain in Domain}) == len(Domain)


def test_domain_tag_is_length_prefixed_so_tags_cannot_absorb_data() -> None:
    # Without the length prefix, tag "hubledger/block" + data "x" would equal a tag
    # "hubledger/blockx" + empty data; with it the boundary is fixed.
    assert compute_hash(Domain.BLOCK, b"") == hashlib.sha256(b"\x0fhubledger/block").digest()
    assert compute_hash(Domain.MERKLE_LEAF, b"x") != compute_hash(Domain.MERKLE_NODE, b"x")


@pytest.mark.parametrize("size", range(1, 34))
def test_every_merkle_path_leads_to_the_root(size: int) -> None:
    leaves = make_leaves(size)
    root = compute_merkle_root(leaves)
    for index, leaf in enumerate(leaves):
        path = compute_merkle_path(leaves, index)
        assert len(path) <= max(1, (size - 1).bit_length())
        assert compute_root_from_path(leaf, path) == root
        # The path proves this leaf at this place, not another leaf.
        assert compute_root_from_path(leaf + b"\x00", path) != root
        if size > 1:
            other = leaves[(index + 1) % size]
            assert compute_root_from_path(other, path) != root


@pytest.mark.parametrize("size", range(1, 34))
def test_path_sides_are_those_of_the_path_and_differ_for_every_position(size: int) -> None:
    """A verifier knowing the leaf count binds a path to one position by its sides."""
    leaves = make_leaves(size)
    shapes = []
    for index in range(size):
        sides = compute_merkle_path_sides(size, index)
        assert sides == [on_left for on_left, _ in compute_merkle_path(leaves, index)]
        shapes.append(tuple(sides))
    assert len(set(shapes)) == size
    with pytest.raises(IndexError):
        compute_merkle_path_sides(size, size)


def test_single_leaf_root_is_the_leaf_hash_and_empty_tree_has_its_own_root() -> None:
    leaf = make_leaves(1)[0]
    assert compute_merkle_root([leaf]) == compute_hash(Domain.MERKLE_LEAF, leaf)
    assert compute_merkle_path([leaf], 0) == []
    assert compute_merkle_root([]) == compute_hash(Domain.MERKLE_EMPTY, b"")
    assert compute_merkle_root([]) != compute_merkle_root([b""])


def test_odd_node_is_promoted_not_duplicated() -> None:
    a, b, c = make_leaves(3)
    assert compute_merkle_root([a, b, c]) != compute_merkle_root([a, b, c, c])
    assert compute_merkle_root([a, b]) != compute_merkle_root([a, b, b])
    for size in range(1, 33):
        leaves = make_leaves(size)
        assert compute_merkle_root(leaves) != compute_merkle_root([*leaves, leaves[-1]])


def test_root_depends_on_order_and_on_every_leaf() -> None:
    leaves = make_leaves(7)
    root = compute_merkle_root(leaves)
    assert compute_merkle_root(leaves[::-1]) != root
    for index in range(7):
        changed = list(leaves)
        changed[index] = b"\x00" * 32
        assert compute_merkle_root(changed) != root


def test_inner_node_cannot_pose_as_a_leaf() -> None:
    a, b = make_leaves(2)
    pair = compute_hash(Domain.MERKLE_LEAF, a) + compute_hash(Domain.MERKLE_LEAF, b)
    inner = compute_hash(Domain.MERKLE_NODE, pair)
    assert compute_merkle_root([a, b]) == inner
    assert compute_merkle_root([inner]) != inner


@pytest.mark.parametrize("index", [-1, 3])
def test_path_for_a_missing_leaf_is_refused(index: int) -> None:
    with pytest.raises(IndexError):
        compute_merkle_path(make_leaves(3), index)
