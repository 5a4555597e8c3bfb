"""Liveness: partitions, paused processes, a skewed clock, failed fetches and lost votes
cost a moment, not a view change or a replica left behind (issue 14, problems 5 to 8)."""

from __future__ import annotations

from collections.abc import Callable

from consensus.messages import Commit, SignedMessage
from ledger.types import ValidatorIndex, View
from tests.unit.consensus.fake_chain import make_transaction, make_transactions
from tests.unit.consensus.harness import Cluster


def _run_for(cluster: Cluster, duration_ms: int) -> None:
    cluster.run_until(lambda: False, deadline_ms=duration_ms)


def _committed_everywhere(cluster: Cluster, nonce: int) -> Callable[[], bool]:
    transaction_id = make_transaction(nonce).id
    return lambda: all(transaction_id in node.application.committed_ids for node in cluster.nodes)


def test_a_request_accepted_in_isolation_commits_after_the_heal() -> None:
    """Problem 5: a backup cut off for 10 s accepts a transfer. It must not change view alone
    (it could not complete a view change, and would be left alone in view 1 after the heal),
    and it must offer the transfer again until the others order it."""
    cluster = Cluster(4, seed=21)
    cluster.cut.add(2)
    cluster.submit([make_transaction(0)], to=[2])
    _run_for(cluster, 10_000)
    cluster.cut.clear()
    healed_ms = cluster.now_ms
    assert cluster.run_until(_committed_everywhere(cluster, 0), deadline_ms=5_000)
    assert cluster.now_ms - healed_ms <= 2 * 1000  # within two request timeouts of the heal
    assert {node.replica.view for node in cluster.nodes} == {0}
    assert all(node.replica.get_status().liveness_concern is None for node in cluster.nodes)
    cluster.assert_same_chain()


def _isolate_after_proposal(cluster: Cluster, lonely: int) -> None:
    """``lonely`` gets the primary's proposal and nothing else: it suspects the primary alone."""

    def only_proposals_reach(sender: int, to: int, message: SignedMessage) -> bool:
        return to != lonely or message.kind == "pre_prepare"

    cluster.filters.append(only_proposals_reach)
    cluster.unanswered_fetch_from |= {peer for peer in range(cluster.n) if peer != lonely}
    cluster.submit([make_transaction(0)], to=[0])
    assert cluster.run_until(lambda: cluster.nodes[lonely].replica.get_status().view_change_in_progress)
    cluster.filters.clear()
    cluster.unanswered_fetch_from.clear()


def test_a_replica_alone_in_a_higher_view_says_so_follows_and_has_its_requests_ordered() -> None:
    """Problems 5 and 6: alone in view 1 while the others commit in view 0, the replica may not
    vote in view 0 (it signed a VIEW-CHANGE for view 1), but it follows the chain by state
    transfer, its clients' requests are ordered by the others, and it says it is not ready."""
    cluster = Cluster(4, seed=22)
    _isolate_after_proposal(cluster, lonely=3)
    lonely = cluster.nodes[3]
    cluster.submit([make_transaction(1)], to=[3])  # accepted by the replica that is alone
    assert cluster.run_until(_committed_everywhere(cluster, 1), deadline_ms=10_000)
    cluster.submit([make_transaction(2)], to=[0])
    assert cluster.run_until(_committed_everywhere(cluster, 2), deadline_ms=10_000)
    status = lonely.replica.get_status()
    assert [node.replica.view for node in cluster.nodes[:3]] == [0, 0, 0]
    if status.view_change_in_progress:  # still alone: it must say so, naming the others' view
        assert status.liveness_concern is not None and "alone in view 1" in status.liveness_concern
        assert "view 0" in status.liveness_concern
    cluster.assert_same_chain()


def test_a_replica_whose_clock_is_40_s_slow_is_not_left_alone_in_a_higher_view() -> None:
    """Problem 6: it refuses every proposal (their timestamps are beyond the skew bound), so
    it cannot vote; it must still follow the chain, get its clients' requests ordered,
    never start a view change on its own, and say what is wrong."""
    cluster = Cluster(4, seed=23)
    cluster.clock_offset_ms[3] = -40_000
    for nonce in range(20):  # it always holds a request or two: its request timer runs throughout
        cluster.submit([make_transaction(nonce)], to=[3])
        _run_for(cluster, 300)
    assert cluster.run_until(_committed_everywhere(cluster, 19), deadline_ms=5_000)
    statuses = [node.replica.get_status() for node in cluster.nodes]
    assert {status.view for status in statuses} == {0}
    assert not any(status.view_change_in_progress for status in statuses)
    concern = statuses[3].liveness_concern
    assert concern is not None and "clock" in concern
    cluster.assert_same_chain()


def test_a_resumed_replica_neither_leaves_the_view_nor_stalls_it() -> None:
    """Problem 7: backups are paused in turn for 3 s (their timers wait, as under SIGSTOP),
    never more than one. A resumed replica's timers fire late, on a state it has not
    refreshed: acting on them it left the view, so the view had two voters, and the chain
    stalled until a view change. Now it arms them afresh, asks its peers what it missed,
    catches up at once, and the primary keeps its view."""
    cluster = Cluster(4, seed=24)
    nonce = 0
    for round_ in range(6):
        paused = 1 + round_ % 3
        cluster.crashed.add(paused)
        for _ in range(6):  # a request to each live replica every half second, each committed in time
            cluster.submit(make_transactions(nonce, 1))
            committed = cluster.run_until(cluster.all_reach(nonce + 1), deadline_ms=500)
            assert committed, f"stalled in round {round_}"
            _run_for(cluster, 500)
            nonce += 1
        cluster.crashed.discard(paused)
        resumed_ms = cluster.now_ms
        cluster.submit(make_transactions(nonce, 1))
        nonce += 1
        assert cluster.run_until(cluster.all_reach(nonce), deadline_ms=1_000), f"{paused} did not catch up"
        assert cluster.now_ms - resumed_ms < 500
    assert all(node.replica.get_status().view_changes == 0 for node in cluster.nodes)
    cluster.assert_same_chain()


def test_a_replica_paused_with_a_block_in_flight_does_not_leave_the_view_on_waking() -> None:
    """Its progress timer fires 3 s late, the moment it wakes, on a block the others committed
    while it slept: it arms the timer afresh and asks its peers, instead of suspecting a
    primary it has not heard from for 3 s and changing view alone."""
    cluster = Cluster(4, seed=32)
    cluster.filters.append(lambda sender, to, m: not (to == 3 and isinstance(m.body, Commit)))
    cluster.submit([make_transaction(0)], to=[0])
    sleeper = cluster.nodes[3]
    assert cluster.run_until(lambda: sleeper.replica.get_status().in_flight == 1)
    cluster.crashed.add(3)
    _run_for(cluster, 3_000)
    cluster.now_ms += 3_000  # the others are idle: the virtual clock moves only with events
    cluster.filters.clear()
    cluster.crashed.discard(3)
    assert cluster.run_until(cluster.all_reach(1), deadline_ms=1_000)
    status = sleeper.replica.get_status()
    assert status.view_changes == 0 and status.resumed_late >= 1


def test_a_fetch_that_failed_everywhere_is_retried_until_the_replica_catches_up() -> None:
    """Problem 8: a replica's fetches to all three peers fail; then the links heal on a quiet
    network. It must keep retrying (backing off) while peers are known to be ahead."""
    cluster = Cluster(4, seed=25, checkpoint_interval=10)
    cluster.crashed.add(3)
    for nonce in range(30):
        cluster.submit(make_transactions(nonce, 1), to=[0, 1, 2])
        assert cluster.run_until(cluster.all_reach(nonce + 1))
    cluster.unanswered_fetch_from |= {0, 1, 2}
    cluster.crashed.discard(3)
    cluster.submit(make_transactions(30, 1), to=[0, 1, 2])  # its COMMITs show 3 it is behind
    assert cluster.run_until(lambda: len(cluster.nodes[3].fetches) >= 3)
    _run_for(cluster, 3_000)  # every peer failed, more than once
    assert cluster.nodes[3].height < 31
    cluster.unanswered_fetch_from.clear()  # the links work again; nothing new is committed
    assert cluster.run_until(lambda: cluster.nodes[3].height == 31, deadline_ms=10_000)
    cluster.assert_same_chain()


def test_a_link_that_comes_up_restarts_a_fetch_waiting_for_its_next_round() -> None:
    cluster = Cluster(4, seed=26, checkpoint_interval=10)
    cluster.crashed.add(3)
    for nonce in range(20):
        cluster.submit(make_transactions(nonce, 1), to=[0, 1, 2])
        assert cluster.run_until(cluster.all_reach(nonce + 1))
    cluster.unanswered_fetch_from |= {0, 1, 2}
    cluster.crashed.discard(3)
    cluster.submit(make_transactions(20, 1), to=[0, 1, 2])
    lagging = cluster.nodes[3]
    assert cluster.run_until(lambda: len(lagging.fetches) >= 3 and lagging.replica._fetch is not None)
    fetch = lagging.replica._fetch
    assert fetch is not None
    assert cluster.run_until(lambda: fetch.peer is None)  # every peer failed: it waits for the next round
    cluster.unanswered_fetch_from.clear()
    asked = len(lagging.fetches)
    cluster.run(3, lagging.replica.on_peer_connected(ValidatorIndex(1), cluster.now_ms))
    assert len(lagging.fetches) == asked + 1 and lagging.fetches[-1].peer == 1  # at once, not next round
    assert cluster.run_until(lambda: lagging.height == 21, deadline_ms=1_000)


def test_lost_commits_are_sent_again_instead_of_changing_view() -> None:
    """One lost vote must not cost a view change: the COMMITs of two replicas to a third are
    lost once; the others commit, and the third gets the block within the view timeout."""
    cluster = Cluster(4, seed=27)
    lost: set[int] = set()

    def lose_first_commits_to_2(sender: int, to: int, message: SignedMessage) -> bool:
        if to == 2 and sender in (1, 3) and isinstance(message.body, Commit) and sender not in lost:
            lost.add(sender)
            return False
        return True

    cluster.filters.append(lose_first_commits_to_2)
    cluster.submit([make_transaction(0)], to=[0])
    submitted_ms = cluster.now_ms
    assert cluster.run_until(cluster.all_reach(1), deadline_ms=5_000)
    assert cluster.now_ms - submitted_ms < 500  # the view timeout
    assert all(node.replica.get_status().view_changes == 0 for node in cluster.nodes)
    assert cluster.nodes[2].replica.get_status().retransmits >= 1


def test_a_lost_link_to_the_primary_replaces_it_within_one_request_timeout() -> None:
    """The node tells the replica when the link to a peer goes down: a dead primary is then
    suspected after a quarter of the request timeout, not after two whole ones."""
    cluster = Cluster(4, seed=28)
    cluster.submit([make_transaction(0)], to=[1])
    assert cluster.run_until(cluster.all_reach(1))
    cluster.crashed.add(0)
    for node in cluster.live():
        cluster.run(node.index, node.replica.on_peer_disconnected(ValidatorIndex(0), cluster.now_ms))
    killed_ms = cluster.now_ms
    cluster.submit([make_transaction(1)], to=[1])
    assert cluster.run_until(cluster.all_reach(2), deadline_ms=5_000)
    assert cluster.now_ms - killed_ms < 1000  # the request timeout
    assert {node.replica.view for node in cluster.live()} == {1}


def test_backups_that_lost_the_primary_join_the_first_view_change_at_once() -> None:
    """Only one backup holds a request when the primary dies. The other two, whose links to
    the primary are down too, join its VIEW-CHANGE when it arrives instead of arming timers of
    their own for the requests it shows them: the quorum forms one quarter request timeout
    after the request, not two."""
    cluster = Cluster(4, seed=29)
    cluster.submit([make_transaction(0)], to=[1])
    assert cluster.run_until(cluster.all_reach(1))
    cluster.crashed.add(0)
    for node in cluster.live():
        cluster.run(node.index, node.replica.on_peer_disconnected(ValidatorIndex(0), cluster.now_ms))
    submitted_ms = cluster.now_ms
    cluster.submit([make_transaction(1)], to=[1])
    assert cluster.run_until(cluster.all_reach(2), deadline_ms=5_000)
    quarter_ms = 1000 // 4  # the request timeout, shortened while the primary is unreachable
    assert cluster.now_ms - submitted_ms < quarter_ms + 200, "a second quarter timeout was waited out"
    assert {node.replica.view for node in cluster.live()} == {1}


def test_a_primary_lost_after_an_idle_spell_is_replaced_on_the_first_request_timer() -> None:
    """Nothing was sent for seconds (an idle network) when the primary died: the backup that
    gets the next request heard nobody since, yet with only the primary's link down it is not
    cut off, and it asks for a view change on its first (quartered) request timer."""
    cluster = Cluster(4, seed=31)
    cluster.submit([make_transaction(0)], to=[1])
    assert cluster.run_until(cluster.all_reach(1))
    _run_for(cluster, 3_000)
    cluster.crashed.add(0)
    for node in cluster.live():
        cluster.run(node.index, node.replica.on_peer_disconnected(ValidatorIndex(0), cluster.now_ms))
    submitted_ms = cluster.now_ms
    cluster.submit([make_transaction(1)], to=[1])
    assert cluster.run_until(cluster.all_reach(2), deadline_ms=5_000)
    assert cluster.now_ms - submitted_ms < 1000 // 4 + 200, "the backup took itself for cut off"


def test_a_view_change_is_not_joined_by_backups_that_still_reach_the_primary() -> None:
    """One backup alone lost its link to the primary and asks for a view change: the others,
    still linked to the primary, do not follow it on that alone."""
    cluster = Cluster(4, seed=30)
    cluster.submit([make_transaction(0)], to=[1])
    assert cluster.run_until(cluster.all_reach(1))
    cluster.run(1, cluster.nodes[1].replica.on_peer_disconnected(ValidatorIndex(0), cluster.now_ms))
    cluster.filters.append(lambda sender, to, message: {sender, to} != {0, 1})  # cut both ways
    cluster.submit([make_transaction(1)], to=[1])
    _run_for(cluster, 800)  # past the cut-off backup's quarter timeout, short of the others' whole one
    assert cluster.nodes[1].replica.view == 1, "the cut-off backup asked for view 1"
    assert [node.replica.view for node in cluster.nodes if node.index != 1] == [0, 0, 0]


def _offer_steadily(cluster: Cluster, duration_ms: int, first_nonce: int) -> int:
    """Three requests to each backup about every 30 ms (the virtual clock can step further
    between two offers when the next event is later); returns the next nonce."""
    nonce = first_nonce
    end_ms = cluster.now_ms + duration_ms
    while cluster.now_ms < end_ms:
        for index in (1, 2, 3):
            cluster.submit(make_transactions(nonce, 3), to=[index])
            nonce += 3
        _run_for(cluster, 30)
    return nonce


def _slow_primary_cluster(seed: int, *, slow: bool) -> Cluster:
    """Blocks of 5, one in flight at a time; the primary of view 1 (replica 1), if ``slow``,
    holds each proposal 450 ms, just under the 500 ms view timeout: a tenth of what it is
    offered. View 0's primary orders at full speed: the backups' history."""
    cluster = Cluster(4, seed=seed, block_transactions_max=5, window_max=1)
    if slow:
        cluster.holds.append(lambda sender, to, m: 450 if sender == 1 and m.kind == "pre_prepare" else 0)
    return cluster


def _offer_then_lose_the_first_primary(cluster: Cluster) -> int:
    nonce = _offer_steadily(cluster, 3_000, 0)  # view 0: what a primary here can do
    cluster.crashed.add(0)
    nonce = _offer_steadily(cluster, 6_000, nonce)
    return nonce


def test_a_primary_that_orders_far_below_what_it_is_offered_is_replaced() -> None:
    """Aardvark's and RBFT's point: a primary that delays each proposal just under the view
    timeout never times out, so its throughput is judged: it kept its view for 30 s while
    commits fell to a fifth; now the backups replace it within a few request timeouts."""
    cluster = _slow_primary_cluster(29, slow=True)
    nonce = _offer_then_lose_the_first_primary(cluster)
    assert all(node.replica.view >= 2 for node in cluster.live())
    assert sum(node.replica.get_status().slow_primaries for node in cluster.live()) >= 1
    cluster.crashed.clear()
    assert cluster.run_until(_committed_everywhere(cluster, nonce - 1), deadline_ms=10_000)
    cluster.assert_same_chain()


def test_a_primary_at_the_pace_it_is_offered_keeps_its_view() -> None:
    cluster = _slow_primary_cluster(30, slow=False)
    nonce = _offer_then_lose_the_first_primary(cluster)
    cluster.crashed.clear()
    assert cluster.run_until(_committed_everywhere(cluster, nonce - 1), deadline_ms=5_000)
    assert all(node.replica.view == 1 for node in cluster.nodes)
    assert all(node.replica.get_status().slow_primaries == 0 for node in cluster.nodes)


def test_an_overloaded_first_primary_is_not_judged_without_history() -> None:
    """Offered ten times what it can order from the start (an overloaded host), the first
    primary is not deposed: with no earlier view, nobody knows what a primary here can do."""
    cluster = Cluster(4, seed=31, block_transactions_max=5, window_max=1)
    cluster.holds.append(lambda sender, to, m: 450 if sender == 0 and m.kind == "pre_prepare" else 0)
    _offer_steadily(cluster, 6_000, 0)
    assert all(node.replica.view == 0 for node in cluster.nodes)


def test_the_others_join_a_replica_left_alone_in_a_higher_view() -> None:
    """A replica that signed VIEW-CHANGE(1) may never vote in view 0 again, so, on a quiet
    network, the others go to it once its VIEW-CHANGE has been heard for a while: every
    replica ends in one view, ordering, and none is left alone."""
    cluster = Cluster(4, seed=23)
    _isolate_after_proposal(cluster, lonely=3)
    assert cluster.run_until(lambda: all(node.height >= 1 for node in cluster.nodes), deadline_ms=10_000)

    def one_view_ordering() -> bool:
        statuses = [node.replica.get_status() for node in cluster.nodes]
        return len({s.view for s in statuses}) == 1 and not any(s.view_change_in_progress for s in statuses)

    assert cluster.run_until(one_view_ordering, deadline_ms=20_000)
    assert cluster.nodes[0].replica.view >= 1
    cluster.submit([make_transaction(1)], to=[3])
    assert cluster.run_until(_committed_everywhere(cluster, 1), deadline_ms=10_000)
    cluster.assert_same_chain()


def test_a_peer_alone_pulls_the_others_up_ever_more_rarely() -> None:
    """A faulty validator that keeps asking for a higher view alone can force a view change,
    but each time it has to ask for twice as long: it cannot keep the network changing view."""
    cluster = Cluster(4, seed=24)
    replica = cluster.nodes[0].replica
    replica._pulled_up_by[ValidatorIndex(3)] = 3
    higher = View(replica.view + 1)
    replica._alone_since[ValidatorIndex(3)] = (higher, 0)
    replica._now_ms = 7 * 2 * replica._get_view_timeout_ms()  # patience: 2 view timeouts << 3
    replica._join_if_alone_too_long(ValidatorIndex(3), higher)
    assert not replica.get_status().view_change_in_progress
    replica._now_ms = 8 * 2 * replica._get_view_timeout_ms()
    replica._join_if_alone_too_long(ValidatorIndex(3), higher)
    assert replica.get_status().view_change_in_progress and replica._pulled_up_by[ValidatorIndex(3)] == 4
