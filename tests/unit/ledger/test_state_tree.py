"""The authenticated state: its root, its proofs and its snapshot chunks."""

from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.state_tree import (
    BUCKETS,
    CHUNKS,
    EMPTY_ROOT,
    EmptyTree,
    StateProof,
    StateProofError,
    StateTree,
    StateTreeOverlay,
    chunk_of,
    chunk_siblings,
    compute_root,
    hash_key,
    verify_chunk,
    verify_state_proof,
)

STATE = [(b"account/%d" % index, b"balance %d" % index) for index in range(300)]
writes = st.dictionaries(st.binary(max_size=12), st.none() | st.binary(max_size=12), max_size=20)


def test_the_root_is_a_function_of_the_state_alone() -> None:
    shuffled = list(STATE)
    random.Random(7).shuffle(shuffled)
    assert compute_root(STATE) == compute_root(shuffled) != EMPTY_ROOT
    assert compute_root([]) == EMPTY_ROOT


@settings(max_examples=60, deadline=None)
@given(first=writes, second=writes)
def test_blocks_applied_one_by_one_give_the_root_of_the_state_they_leave(
    first: dict[bytes, bytes | None], second: dict[bytes, bytes | None]
) -> None:
    state = dict(STATE[:20])
    tree = StateTree(state.items())
    for changes in (first, second):
        tree.apply(changes.items())
        for key, value in changes.items():
            if value is None:
                state.pop(key, None)
            else:
                state[key] = value
        assert tree.root == compute_root(state.items())


def test_the_root_tells_apart_what_changed() -> None:
    root = compute_root(STATE)
    variants = [
        compute_root(STATE[:-1]),  # a key missing
        compute_root([*STATE[:-1], (STATE[-1][0], b"")]),  # an empty value is not an absent one
        compute_root([*STATE[:-1], (STATE[-1][0] + b"x", STATE[-1][1])]),  # another key
        compute_root([*STATE[:-1], (STATE[-1][0], STATE[-1][1] + b"x")]),  # another value
    ]
    assert root not in variants and len(set(variants)) == len(variants)


def test_a_stacked_overlay_reads_through_its_parent_and_a_rebase_changes_nothing() -> None:
    base = StateTreeOverlay(EmptyTree())
    base.apply(STATE)
    parent = StateTreeOverlay(base)
    parent.apply([(b"account/1", b"spent"), (b"new", b"key")])
    child = StateTreeOverlay(parent)
    child.apply([(b"account/2", None)])
    state = dict(STATE)
    state[b"account/1"], state[b"new"] = b"spent", b"key"
    del state[b"account/2"]
    expected = compute_root(state.items())
    assert child.root == expected
    assert child.flattened().root == child.root and child.flattened().depth() == 1
    base.absorb(parent)
    child.rebase(base)
    assert child.root == expected


def test_a_proof_shows_a_record_and_an_absence_and_nothing_else() -> None:
    tree = StateTree(STATE)
    key, value = STATE[5]
    verify_state_proof(tree.root, tree.prove(key, value))
    verify_state_proof(tree.root, tree.prove(b"account/none", None))
    with pytest.raises(StateProofError, match="differs"):
        verify_state_proof(tree.root, tree.prove(key, b"a richer balance"))
    with pytest.raises(StateProofError, match="absent"):
        verify_state_proof(tree.root, tree.prove(key, None))
    with pytest.raises(StateProofError, match="state root"):
        verify_state_proof(compute_root(STATE[1:]), tree.prove(key, value))


def test_every_changed_byte_of_a_proof_is_refused() -> None:
    tree = StateTree(STATE)
    key, value = STATE[9]
    proof = tree.prove(key, value)
    entries = dict(proof.entries)
    entries[b"\x00" * 32] = b"\x00" * 32  # an entry planted from another bucket
    forged = [
        StateProof(key, value, entries, proof.siblings),
        StateProof(key, value, proof.entries, proof.siblings[:-1]),
    ]
    for index in range(len(proof.siblings)):
        siblings = list(proof.siblings)
        siblings[index] = bytes([siblings[index][0] ^ 1]) + siblings[index][1:]
        forged.append(StateProof(key, value, proof.entries, tuple(siblings)))
    for entry_key in proof.entries:
        changed = dict(proof.entries)
        changed[entry_key] = bytes(32)
        forged.append(StateProof(key, value, changed, proof.siblings))
    for case in forged:
        with pytest.raises(StateProofError):
            verify_state_proof(tree.root, case)


def test_chunks_partition_the_state_and_each_verifies_alone() -> None:
    tree = StateTreeOverlay(EmptyTree())
    tree.apply(STATE)
    by_chunk: dict[int, list[tuple[bytes, bytes]]] = {}
    for key, value in STATE:
        by_chunk.setdefault(chunk_of(key), []).append((key, value))
    for chunk in (0, *sorted(by_chunk)[:5], CHUNKS - 1):
        verify_chunk(tree.root, chunk, by_chunk.get(chunk, []), chunk_siblings(tree, chunk))
    chunk = sorted(by_chunk)[0]
    pairs, siblings = by_chunk[chunk], chunk_siblings(tree, chunk)
    for bad in (pairs[1:], [*pairs, pairs[0]], [(pairs[0][0], b"forged"), *pairs[1:]]):
        with pytest.raises(StateProofError):
            verify_chunk(tree.root, chunk, bad, siblings)
    stranger = next(key for key, _ in STATE if chunk_of(key) != chunk)
    with pytest.raises(StateProofError, match="does not belong"):
        verify_chunk(tree.root, chunk, [*pairs, (stranger, b"x")], siblings)


def test_a_key_lands_in_the_bucket_of_its_hash() -> None:
    assert 0 <= int.from_bytes(hash_key(b"account/1")[:2], "big") < BUCKETS
