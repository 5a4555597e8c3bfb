"""The floor a NEW-VIEW proves: nothing is ordered at or below its starting height in that view.

Both scenarios of issue 14, problem 1. The view-0 COMMITs reach replica 0 alone, so it
commits heights 1 to 3; its VIEW-CHANGE carries the commit certificate of height 3, the
NEW-VIEW of view 1 proves height 3 final, and view 1 starts there. Replica 0 is then cut
off, so replicas 1 to 3 enter view 1 below its start and cannot fetch. If the new primary
then proposes at height 1 (it restarted and forgot the floor, or it is Byzantine) and
replicas 2 and 3 prepare and commit it, two blocks are certified at height 1.
"""

from __future__ import annotations

from collections import defaultdict

import pytest

from consensus.messages import Commit, PrePrepare, SignedMessage, ViewChange, sign_message
from ledger.types import Hash, Height, TimestampMs, ValidatorIndex, View
from tests.unit.consensus.fake_chain import (
    CHAIN_ID,
    GENESIS_HASH,
    get_key,
    make_transaction,
    make_transactions,
)
from tests.unit.consensus.harness import Cluster


def commit_only_to_replica_0_in_view_0(sender: int, to: int, message: SignedMessage) -> bool:
    body = message.body
    return not (isinstance(body, Commit) and body.view == 0 and to != 0)


def view_change_of_3_lost_to_1(sender: int, to: int, message: SignedMessage) -> bool:
    return not (isinstance(message.body, ViewChange) and sender == 3 and to == 1)


def reach_view_1_above_height_3(seed: int, **overrides: object) -> tuple[Cluster, list[SignedMessage]]:
    """Replica 0 alone commits 1 to 3; view 1 starts at 3; replica 0 is cut off as replica 1
    enters view 1. Returns the cluster and every message the replicas sent so far."""
    cluster = Cluster(4, seed=seed, block_transactions_max=1, **overrides)  # type: ignore[arg-type]
    cluster.filters += [commit_only_to_replica_0_in_view_0, view_change_of_3_lost_to_1]
    cluster.lost_fetch_from.add(0)  # its state-transfer answers are lost
    cluster.submit(make_transactions(0, 3))
    assert cluster.run_until(lambda: cluster.nodes[0].height == 3)
    assert all(node.height == 0 for node in cluster.nodes[1:])

    def primary_in_view_1() -> bool:
        replica = cluster.nodes[1].replica
        return replica.view == 1 and not replica.get_status().view_change_in_progress

    assert cluster.run_until(primary_in_view_1)
    cluster.cut.add(0)  # and now it is cut off altogether
    return cluster, [message for node in cluster.nodes for message in node.sent]


def assert_no_fork(cluster: Cluster, sent: list[SignedMessage]) -> None:
    """No honest replica signed COMMITs for two blocks at one height; no two blocks certified."""
    digests: dict[tuple[int, Height], set[Hash]] = defaultdict(set)
    for message in sent + [message for node in cluster.nodes for message in node.sent]:
        if isinstance(message.body, Commit) and message.sender != 1:  # replica 1 may be the faulty one
            digests[(message.sender, message.body.height)].add(message.body.block_hash)
    assert all(len(hashes) == 1 for hashes in digests.values()), "an honest replica signed two commits"
    certified: dict[int, set[Hash]] = defaultdict(set)
    for node in cluster.nodes:
        for height, block_hash in enumerate(node.hashes, start=1):
            certified[height].add(block_hash)
    assert all(len(hashes) == 1 for hashes in certified.values()), "two blocks certified at one height"


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_a_restarted_new_primary_does_not_propose_below_its_views_start(seed: int) -> None:
    cluster, sent = reach_view_1_above_height_3(seed)
    sent += cluster.nodes[1].sent
    restarted = cluster.restart(1)  # crashes and restarts before it caught up to height 3
    assert restarted.replica.view == 1 and restarted.replica.low_water_mark == 3  # from its log
    assert restarted.fetches  # below its floor: it asks for the blocks up to it at once
    cluster.submit([make_transaction(10)], to=[1, 2, 3])
    cluster.run_until(lambda: False, deadline_ms=10_000)
    assert_no_fork(cluster, sent)
    # Whatever they commit meanwhile (a later view may re-propose the blocks they prepared, with
    # replica 0's hashes) is the chain replica 0 holds.
    for node in cluster.nodes[1:]:
        shared = min(node.height, cluster.nodes[0].height)
        assert node.hashes[:shared] == cluster.nodes[0].hashes[:shared]
    cluster.cut.clear()  # replica 0 back: they fetch 1 to 3 and go on from there
    cluster.lost_fetch_from.clear()
    cluster.submit([make_transaction(11)])
    assert cluster.run_until(cluster.all_reach(4), deadline_ms=60_000)
    assert_no_fork(cluster, sent)
    cluster.assert_same_chain()


@pytest.mark.parametrize("restart_backups", [False, True])
def test_a_byzantine_new_primary_cannot_order_below_its_views_start(restart_backups: bool) -> None:
    cluster, sent = reach_view_1_above_height_3(4)
    if restart_backups:  # the floor comes back from their logs too

        def in_view_1() -> bool:
            return all(cluster.nodes[i].replica.low_water_mark == 3 for i in (2, 3))

        assert cluster.run_until(in_view_1)
        sent += [message for index in (2, 3) for message in cluster.nodes[index].sent]
        for index in (2, 3):
            assert cluster.restart(index).replica.low_water_mark == 3
    block = cluster.nodes[1].application.build_block(
        previous_hash=GENESIS_HASH,
        height=Height(1),
        view=View(1),
        proposer=ValidatorIndex(1),
        timestamp_ms=TimestampMs(cluster.now_ms),
        transactions=[make_transaction(20)],
    )
    key = get_key(101)
    forged = [
        sign_message(body, chain_id=CHAIN_ID, sender=ValidatorIndex(1), key=key)
        for body in (PrePrepare(View(1), Height(1), block), Commit(View(1), Height(1), block.hash))
    ]
    for index in (2, 3):
        for message in forged:
            cluster.run(index, cluster.nodes[index].replica.on_message(message, cluster.now_ms))
    cluster.run_until(lambda: False, deadline_ms=5_000)
    assert_no_fork(cluster, sent)
    for index in (2, 3):
        assert cluster.nodes[index].replica.faults.get("below_floor", 0) >= 2


def test_without_the_floor_the_restarted_primary_forks_the_chain() -> None:
    # The negative control for the test-only switch: the fork of issue 14 comes back.
    cluster, sent = reach_view_1_above_height_3(1, view_floor_enforced=False)
    sent += cluster.nodes[1].sent
    cluster.restart(1)
    cluster.submit([make_transaction(10)], to=[1, 2, 3])
    cluster.run_until(lambda: False, deadline_ms=10_000)
    with pytest.raises(AssertionError, match="two"):
        assert_no_fork(cluster, sent)
