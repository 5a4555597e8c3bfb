"""Attacks on the view floor, the journal and the per-sender buffers (review of issue 14).

Each test FAILS if the attack succeeds: a fork, a double vote, a lost floor, a stall that
never ends although a quorum of honest replicas holds every block, or a store one
validator grows without bound.
"""

from __future__ import annotations

import pytest

from consensus import journal
from consensus.messages import (
    Checkpoint,
    Commit,
    NewView,
    Prepare,
    PrePrepare,
    SignedMessage,
    ViewChange,
    commits_of,
    sign_message,
)
from ledger import cbor
from ledger.types import Hash, Height, ValidatorIndex, View
from tests.unit.consensus.fake_chain import CHAIN_ID, get_key, make_transaction, make_transactions
from tests.unit.consensus.harness import Cluster
from tests.unit.consensus.test_view_floor import (
    assert_no_fork,
    reach_view_1_above_height_3,
    view_change_of_3_lost_to_1,
)


def byzantine_view_changes_from_0(cluster: Cluster) -> None:
    """Replica 0 (Byzantine, otherwise silent) answers every VIEW-CHANGE it sees with its own
    for the same view, at once, starting from its commit certificate of height 3."""
    block, certificate = cluster.nodes[0].chain[-1]
    proof = commits_of(certificate, CHAIN_ID)
    sent: set[tuple[int, int]] = set()

    def inject(sender: int, to: int, message: SignedMessage) -> bool:
        body = message.body
        if isinstance(body, ViewChange) and sender != 0 and to != 0 and (body.view, to) not in sent:
            sent.add((body.view, to))
            forged = ViewChange(body.view, block.height, block.hash, proof, ())
            signed = sign_message(forged, chain_id=CHAIN_ID, sender=ValidatorIndex(0), key=get_key(100))
            cluster._push(cluster.now_ms, "message", to, (0, signed.encode()))
        return True

    cluster.filters.append(inject)


def test_a_validator_that_never_serves_blocks_cannot_hold_the_view_start_above_every_honest_chain() -> None:
    """Replica 0 alone holds the commit certificate of height 3 (the view-0 COMMITs reached
    only it) and then turns Byzantine: it serves no blocks and sends, for every view, a
    VIEW-CHANGE that proves height 3 final with that valid certificate. Every NEW-VIEW that
    includes it starts at 3, a height no honest replica can fetch, although replicas 1 to 3
    (a quorum) hold the three blocks prepared: a NEW-VIEW on their VIEW-CHANGEs alone
    re-proposes them. The primary picks the VIEW-CHANGEs of the lowest senders, so replica
    0's is always chosen, view after view starts at 3, and nothing ever commits."""
    cluster, sent = reach_view_1_above_height_3(1)
    byzantine_view_changes_from_0(cluster)  # replica 0 stays cut off but for these
    cluster.submit([make_transaction(10)], to=[1, 2, 3])
    honest = cluster.nodes[1:]
    reached = cluster.run_until(lambda: all(node.height >= 4 for node in honest), deadline_ms=120_000)
    assert_no_fork(cluster, sent)
    views = [node.replica.view for node in honest]
    heights = [node.height for node in honest]
    assert reached, f"honest replicas stuck at heights {heights} in views {views}"


def test_a_view_record_written_before_the_start_field_keeps_the_floor_after_a_restart() -> None:
    """Replicas 1 to 3 entered view 1, whose NEW-VIEW started at 3, under the release before
    the floor: their view records have no "start". An upgrade restarts them; the record
    reads back as start 0, so the floor of view 1 is gone on every one of them, the new
    primary proposes at height 1 again, and the fork of issue 14, problem 1 is back."""
    cluster, sent = reach_view_1_above_height_3(4)

    def in_view_1() -> bool:
        return all(cluster.nodes[i].replica.low_water_mark == 3 for i in (1, 2, 3))

    assert cluster.run_until(in_view_1)
    sent += [message for node in cluster.nodes for message in node.sent]
    for index in (1, 2, 3):
        log = cluster.nodes[index].log
        record = cbor.decode(log[journal.VIEW_KEY], bytes_max=1 << 20)
        assert record == {"view": 1, "changing": False, "start": 3}
        log[journal.VIEW_KEY] = cbor.encode({"view": 1, "changing": False})  # the old format
    for index in (1, 2, 3):
        restarted = cluster.restart(index)
        # The floor of view 1 is unknown: it orders nothing there and asks for view 2 at once.
        assert restarted.replica.view == 2 and restarted.replica.get_status().view_change_in_progress
    cluster.submit([make_transaction(10)], to=[1, 2, 3])
    cluster.run_until(lambda: False, deadline_ms=10_000)
    assert_no_fork(cluster, sent)
    late = [m.body for i in (1, 2, 3) for m in cluster.nodes[i].sent if isinstance(m.body, Prepare | Commit)]
    assert all(body.view >= 2 for body in late), "a replica voted in view 1 with its floor unknown"


def test_a_new_primary_restarted_below_its_views_start_never_proposes_a_second_block_at_a_reproposed_height() -> None:  # noqa: E501
    """View 0 orders heights 1 to 4; the COMMITs of 1 to 3 reach replica 0 alone and those of
    4 reach nobody. The NEW-VIEW of view 1 starts at 3 (replica 0's certificate) and
    re-proposes block 4. Replica 1, its primary, is at height 0 and cannot fetch (replica 0's
    answers are lost); it restarts. Its logged PRE-PREPARE for (1, 4) cannot be resumed (its
    parent is unknown), so its next height is 4 again; once the fetch succeeds it must not
    build and sign a second block for (1, 4): that is an honest primary equivocating."""
    cluster = Cluster(4, seed=1, block_transactions_max=1)

    def commits(sender: int, to: int, message: SignedMessage) -> bool:
        body = message.body
        if isinstance(body, Commit) and body.view == 0:
            return body.height <= 3 and to == 0
        return True

    cluster.filters += [commits, view_change_of_3_lost_to_1]
    cluster.lost_fetch_from.add(0)
    cluster.submit(make_transactions(0, 4))
    assert cluster.run_until(lambda: cluster.nodes[0].height == 3)

    def primary_in_view_1() -> bool:
        replica = cluster.nodes[1].replica
        return replica.view == 1 and not replica.get_status().view_change_in_progress

    assert cluster.run_until(primary_in_view_1)
    assert cluster.nodes[1].replica.low_water_mark == 3 and cluster.nodes[1].height == 0
    reproposed = [
        proposal.body.height
        for message in cluster.nodes[1].sent
        if isinstance(message.body, NewView) and message.body.view == 1
        for proposal in message.body.pre_prepares
        if isinstance(proposal.body, PrePrepare)
    ]
    assert reproposed == [4], "the NEW-VIEW of view 1 re-proposes block 4"
    before = list(cluster.nodes[1].sent)
    cluster.restart(1)
    cluster.lost_fetch_from.clear()  # replica 0 serves again: the primary reaches its floor
    cluster.submit([make_transaction(10)], to=[1])
    cluster.run_until(lambda: False, deadline_ms=10_000)
    cluster.assert_same_chain()
    # The harness checks top-level PRE-PREPAREs only; the NEW-VIEW's are signed by replica 1 too.
    digests = {
        (proposal.body.block.hash if isinstance(proposal.body, PrePrepare) else None)
        for message in before + cluster.nodes[1].sent
        for proposal in (message.body.pre_prepares if isinstance(message.body, NewView) else (message,))
        if isinstance(proposal.body, PrePrepare) and (proposal.body.view, proposal.body.height) == (1, 4)
    }
    assert len(digests) == 1, "the restarted primary signed two blocks for (view 1, height 4)"
    accused = [evidence for node in cluster.nodes for evidence in node.evidence if evidence.validator == 1]
    assert not accused, "honest replica 1 is on record as an equivocator"


@pytest.mark.parametrize("view_record_lags", [False, True])
def test_a_backup_restarted_between_its_view_change_and_the_new_view_keeps_its_votes_and_no_stale_floor(
    view_record_lags: bool,
) -> None:
    """View 1 starts at 3 (replica 0's certificate) while replicas 2 and 3 are at height 0.
    The primary of view 1 crashes; replica 2 persists its VIEW-CHANGE for view 2 and restarts
    before any NEW-VIEW. It must come back changing to view 2 with no floor from view 1
    (the view record it wrote with the VIEW-CHANGE has start 0), re-send, not re-sign, its
    VIEW-CHANGE, and once everyone is back the cluster goes on without a fork.
    ``view_record_lags``: the view record read back is still view 1's (start 3), older
    than the VIEW-CHANGE for view 2 beside it."""
    cluster, sent = reach_view_1_above_height_3(2)
    cluster.crashed.add(1)
    cluster.submit([make_transaction(10)], to=[2, 3])

    def replica_2_changing_to_view_2() -> bool:
        replica = cluster.nodes[2].replica
        return replica.view == 2 and replica.get_status().view_change_in_progress

    assert cluster.run_until(replica_2_changing_to_view_2, deadline_ms=30_000)
    sent += [message for node in cluster.nodes for message in node.sent]
    before = [m for m in cluster.nodes[2].sent if isinstance(m.body, ViewChange) and m.body.view == 2]
    if view_record_lags:
        record = journal.encode_view(View(1), changing=False, start=Height(3))
        cluster.nodes[2].log[journal.VIEW_KEY] = record
    restarted = cluster.restart(2)
    assert restarted.replica.view == 2 and restarted.replica.get_status().view_change_in_progress
    assert restarted.replica.low_water_mark == restarted.replica.committed_height == 0
    again = [m for m in restarted.sent if isinstance(m.body, ViewChange) and m.body.view == 2]
    assert again and all(m.encode() == before[0].encode() for m in again)  # re-sent, not re-signed
    cluster.cut.clear()
    cluster.lost_fetch_from.clear()
    cluster.restart(1)
    cluster.submit([make_transaction(11)])
    assert cluster.run_until(cluster.all_reach(5), deadline_ms=120_000)
    assert_no_fork(cluster, sent)
    cluster.assert_same_chain()


def test_one_validators_checkpoint_and_future_floods_evict_nothing_of_the_others() -> None:
    """Replica 3 signs CHECKPOINTs at every checkpoint height up to the high-water mark with
    wrong hashes and early PREPAREs and COMMITs for views 1 to 60 at every height of the
    window, before and while the others order. Its shares fill; the honest replicas' votes
    and their own checkpoints still make checkpoints stable, and a view change (primary 0
    crashes) still completes with the others' early messages replayed."""
    cluster = Cluster(4, seed=5, checkpoint_interval=2, block_transactions_max=1)
    key = get_key(103)

    def flood() -> None:
        committed = min(node.height for node in cluster.nodes[:3])
        bodies: list[object] = [
            Checkpoint(Height(height), Hash(bytes([height % 256]) * 32))
            for height in range(committed + 2, committed + 40, 2)
        ]
        bodies += [
            kind(View(view), Height(committed + offset), Hash(bytes([view]) * 32))
            for view in range(1, 61)
            for offset in range(1, 17)
            for kind in (Prepare, Commit)
        ]
        for body in bodies:
            message = sign_message(body, chain_id=CHAIN_ID, sender=ValidatorIndex(3), key=key)  # type: ignore[arg-type]
            for index in range(3):
                if index not in cluster.crashed:
                    cluster.run(index, cluster.nodes[index].replica.on_message(message, cluster.now_ms))

    flood()
    cluster.submit(make_transactions(0, 6))
    assert cluster.run_until(cluster.all_reach(6, cluster.nodes[:3]), deadline_ms=30_000)
    flood()

    def stable_at_4() -> bool:
        return all(node.replica.get_status().stable_checkpoint >= 4 for node in cluster.nodes[:3])

    cluster.run_until(stable_at_4, deadline_ms=10_000)
    for node in cluster.nodes[:3]:
        replica = node.replica
        assert replica.get_status().stable_checkpoint >= 4, f"replica {node.index} lost checkpoints"
        assert (
            replica._checkpoint_votes.get_count(ValidatorIndex(3)) <= replica._checkpoint_votes.per_sender_max
        )
        assert replica._future.get_count(ValidatorIndex(3)) <= replica._future.messages_per_sender_max
    cluster.crashed.add(0)
    cluster.submit(make_transactions(6, 2), to=[1, 2, 3])
    flood()
    assert cluster.run_until(cluster.all_reach(8, cluster.nodes[1:]), deadline_ms=60_000)
    cluster.assert_same_chain()


def test_a_reproposal_prepared_below_the_floor_commits_in_its_view_once_the_floor_is_fetched() -> None:
    """As above, view 1 starts at 3 and re-proposes block 4; replicas 1 to 3 are at height 0
    and prepare it, but cannot COMMIT it (its parent is not theirs yet). Their fetch of 1 to
    3 then succeeds: they must COMMIT block 4 at once. If the delivery of fetched blocks does
    not move the slots on, block 4 waits for a view change although every vote is in."""
    cluster = Cluster(4, seed=1, block_transactions_max=1)

    def commits(sender: int, to: int, message: SignedMessage) -> bool:
        body = message.body
        if isinstance(body, Commit) and body.view == 0:
            return body.height <= 3 and to == 0
        return True

    cluster.filters += [commits, view_change_of_3_lost_to_1]
    cluster.lost_fetch_from.add(0)
    cluster.submit(make_transactions(0, 4))
    assert cluster.run_until(lambda: cluster.nodes[0].height == 3)

    def all_in_view_1() -> bool:
        return all(
            n.replica.view == 1 and not n.replica.get_status().view_change_in_progress for n in cluster.nodes
        )

    assert cluster.run_until(all_in_view_1)
    cluster.run_until(lambda: False, deadline_ms=50)  # the votes on block 4 are all in
    cluster.lost_fetch_from.clear()
    for index in (1, 2, 3):  # their fetch answers arrive
        node = cluster.nodes[index]
        cluster.run(
            index, node.replica.on_fetched(ValidatorIndex(0), cluster.nodes[0].chain[:3], cluster.now_ms)
        )
    assert all(node.height == 3 for node in cluster.nodes)
    cluster.run_until(cluster.all_reach(4), deadline_ms=10_000)
    views = [node.chain[3][1].view if node.height >= 4 else None for node in cluster.nodes]
    assert views == [1, 1, 1, 1], f"block 4 committed in views {views}: a view change was needed"


def test_a_replica_whose_stable_checkpoint_is_above_its_chain_changes_view_restarts_and_catches_up() -> None:
    """Replica 3 misses every COMMIT, so it commits nothing, but the CHECKPOINTs of 2 and 4
    make 4 stable above its chain (0), and nobody answers its fetches. The primary then
    crashes: replica 3's VIEW-CHANGE starts from its stable checkpoint. It restarts in the
    middle of the next view, still below its floor. It must vote on nothing at or below 4,
    come back with a low-water mark of 4 and, once peers answer, catch up without a fork."""
    cluster = Cluster(4, seed=3, checkpoint_interval=2, block_transactions_max=1)
    cluster.filters.append(lambda sender, to, message: not (isinstance(message.body, Commit) and to == 3))
    cluster.lost_fetch_from.update({0, 1, 2})
    cluster.submit(make_transactions(0, 5))
    assert cluster.run_until(lambda: cluster.nodes[3].replica.get_status().stable_checkpoint == 4)
    assert cluster.nodes[3].height == 0 and cluster.nodes[3].replica.low_water_mark == 4
    cluster.filters.clear()
    cluster.crashed.add(0)
    cluster.submit(make_transactions(5, 2), to=[1, 2, 3])

    def in_view_1() -> bool:
        replica = cluster.nodes[3].replica
        return replica.view >= 1 and not replica.get_status().view_change_in_progress

    assert cluster.run_until(in_view_1, deadline_ms=30_000)
    sent = [message for node in cluster.nodes for message in node.sent]
    low_votes = [
        message
        for message in cluster.nodes[3].sent
        if isinstance(message.body, Prepare | Commit) and message.body.view >= 1 and message.body.height <= 4
    ]
    assert not low_votes, "replica 3 voted at or below its stable checkpoint"
    restarted = cluster.restart(3)
    assert restarted.replica.low_water_mark >= 4 and restarted.height == 0
    cluster.lost_fetch_from.clear()
    cluster.submit(make_transactions(7, 1), to=[1, 2, 3])
    assert cluster.run_until(cluster.all_reach(8, cluster.nodes[1:]), deadline_ms=60_000)
    assert_no_fork(cluster, sent)
    cluster.assert_same_chain(cluster.nodes[1:])


def test_lowering_the_block_limits_in_a_restart_does_not_refuse_every_new_view_for_good() -> None:
    """Blocks of four transactions are prepared by everyone but committed by no one (the
    COMMITs are lost). The operators lower block_transactions_max to 1 and block_bytes_max
    to 1024 and restart every validator. The prepared blocks must be re-proposed by the next
    NEW-VIEW (a quorum prepared them: PBFT must carry them on); a backup that checks them
    against its new configured limits refuses every NEW-VIEW, and the chain stops for good."""
    cluster = Cluster(4, seed=1, block_transactions_max=4)
    cluster.filters.append(lambda sender, to, message: not isinstance(message.body, Commit))
    cluster.submit(make_transactions(0, 4))
    assert cluster.run_until(lambda: all(1 in n.replica._prepared for n in cluster.nodes), deadline_ms=5_000)
    assert len(cluster.nodes[1].replica._prepared[Height(1)].proposal.block.transactions) == 4
    cluster.filters.clear()
    cluster.overrides.update(block_transactions_max=1, block_bytes_max=1024)
    for index in range(4):
        cluster.restart(index)
    cluster.submit(make_transactions(10, 1))
    reached = cluster.run_until(cluster.all_reach(1), deadline_ms=60_000)
    refused = [node.replica.faults.get("bad_new_view", 0) for node in cluster.nodes]
    assert reached, f"no block committed; NEW-VIEWs refused per replica: {refused}"
    cluster.assert_same_chain()
