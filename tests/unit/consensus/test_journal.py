"""The persisted consensus log: what a replica wrote is what a restarted one reads."""

from __future__ import annotations

import pytest

from consensus.journal import (
    CHECKPOINT_KEY,
    COMMIT,
    PREPARE,
    VIEW_KEY,
    JournalCorrupt,
    compute_vote_key,
    encode_view,
    get_key_height,
    restore,
)
from ledger import cbor
from ledger.types import Height, View
from tests.unit.consensus.fake_chain import make_transactions
from tests.unit.consensus.harness import Cluster


def test_keys_are_versioned_and_ordered_by_height() -> None:
    key = compute_vote_key(PREPARE, Height(7), View(2))
    assert key.startswith(b"c1/prepare/") and get_key_height(key) == 7
    assert compute_vote_key(COMMIT, Height(9), View(0)) < compute_vote_key(COMMIT, Height(10), View(0))
    assert get_key_height(VIEW_KEY) is None


def test_a_running_replica_log_restores_its_view_votes_and_checkpoint() -> None:
    cluster = Cluster(4, seed=51, block_transactions_max=2, checkpoint_interval=3)
    cluster.submit(make_transactions(0, 12))
    assert cluster.run_until(lambda: cluster.nodes[1].replica.get_status().stable_checkpoint == 6)
    log = cluster.nodes[1].log
    restored = restore(sorted(log.items()))
    assert restored.view == 0 and not restored.changing
    assert restored.checkpoint is not None and restored.checkpoint.height == 6
    assert len(restored.checkpoint.proof) >= 3
    assert {message.kind for message in restored.own_messages} <= {"prepare", "commit"}
    assert CHECKPOINT_KEY in log


def test_a_corrupt_entry_is_reported_not_ignored() -> None:
    with pytest.raises(JournalCorrupt, match="consensus log entry"):
        restore([(compute_vote_key(PREPARE, Height(1), View(0)), b"\xff\xfe not cbor")])
    with pytest.raises(JournalCorrupt, match="keys must come back as persisted"):
        restore([(b"store-prefix/" + VIEW_KEY, b"")])  # a store that did not strip its prefix


def test_the_view_record_keeps_the_views_start_and_older_records_still_read() -> None:
    restored = restore([(VIEW_KEY, encode_view(View(3), changing=False, start=Height(40)))])
    assert (restored.view, restored.changing, restored.view_start) == (3, False, 40)
    older = cbor.encode({"view": 2, "changing": True})  # written before the start was kept
    restored = restore([(VIEW_KEY, older)])
    assert (restored.view, restored.changing, restored.view_start) == (2, True, 0)
    assert restored.start_known  # changing: the next NEW-VIEW says where the view starts
    entered = restore([(VIEW_KEY, cbor.encode({"view": 2, "changing": False}))])
    assert not entered.start_known  # a view entered before the start was kept: floor unknown
    assert restore([(VIEW_KEY, cbor.encode({"view": 0, "changing": False}))]).start_known
    with pytest.raises(JournalCorrupt, match="unknown field"):
        restore([(VIEW_KEY, cbor.encode({"view": 2, "changing": True, "begin": 1}))])
