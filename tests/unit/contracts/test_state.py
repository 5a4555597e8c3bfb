"""The overlay: buffered writes, rollback to a snapshot, stacking for speculative blocks."""

from __future__ import annotations

import pytest

from contracts.state import DictState, Overlay, StateReader, StateScanner


def test_writes_shadow_the_parent_and_list_sorted_by_key() -> None:
    base = DictState([(b"a", b"1"), (b"b", b"2")])
    overlay = Overlay(base)
    overlay.put(b"c", b"3")
    overlay.delete(b"a")
    overlay.put(b"b", b"22")
    assert (overlay.get(b"a"), overlay.get(b"b"), overlay.get(b"c")) == (None, b"22", b"3")
    assert base.get(b"b") == b"2"
    assert overlay.changes() == [(b"a", None), (b"b", b"22"), (b"c", b"3")]


def test_revert_undoes_everything_after_the_snapshot_only() -> None:
    overlay = Overlay(DictState([(b"k", b"0")]))
    overlay.put(b"k", b"1")
    snapshot = overlay.snapshot()
    overlay.put(b"k", b"2")
    overlay.put(b"new", b"x")
    overlay.delete(b"k")
    overlay.revert(snapshot)
    assert overlay.get(b"k") == b"1"
    assert overlay.changes() == [(b"k", b"1")]


def test_overlays_stack_and_commit_into_their_parent() -> None:
    committed = DictState([(b"k", b"0")])
    block_one = Overlay(committed)
    block_one.put(b"k", b"1")
    block_two = Overlay(block_one)
    assert isinstance(block_one, StateReader)
    assert block_two.get(b"k") == b"1"
    block_two.put(b"k", b"2")
    block_two.delete(b"j")
    block_two.commit_into(block_one)
    assert block_one.changes() == [(b"j", None), (b"k", b"2")]


def test_a_flattened_chain_of_overlays_reads_and_scans_as_the_chain_does_one_level_deep() -> None:
    committed = DictState([(b"k/gone", b"0"), (b"k/kept", b"0"), (b"k/moved", b"0")])
    chain = Overlay(committed)
    for block in range(1, 20):
        chain = Overlay(chain)
        chain.put(b"k/moved", str(block).encode())
        chain.put(f"k/new{block:02}".encode(), b"x")
    chain.delete(b"k/gone")
    flat = chain.flattened()
    assert chain.depth() == 20 and flat.depth() == 1 and flat.parent is committed
    for key in (b"k/gone", b"k/kept", b"k/moved", b"k/new07", b"k/none"):
        assert flat.get(key) == chain.get(key)
    assert flat.get(b"k/moved") == b"19" and flat.get(b"k/gone") is None
    assert list(flat.iterate(b"k/")) == list(chain.iterate(b"k/"))
    child = Overlay(flat)
    child.put(b"k/moved", b"20")
    assert chain.get(b"k/moved") == b"19"  # a copy: writes above it leave the chain alone


def test_iterate_merges_parent_and_writes_in_key_order() -> None:
    overlay = Overlay(Overlay(DictState([(b"p/1", b"a"), (b"p/3", b"c"), (b"q/1", b"z")])))
    assert isinstance(overlay, StateScanner)
    overlay.put(b"p/2", b"b")
    overlay.delete(b"p/3")
    assert list(overlay.iterate(b"p/")) == [(b"p/1", b"a"), (b"p/2", b"b")]


def test_revert_to_a_foreign_snapshot_is_a_bug() -> None:
    overlay = Overlay(DictState())
    with pytest.raises(ValueError):
        overlay.revert(3)
