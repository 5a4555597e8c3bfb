"""Checkpoints bound the log; a replica that fell behind catches up by fetching certified blocks."""

from __future__ import annotations

from consensus.actions import Fetch
from consensus.journal import CHECKPOINT_KEY, get_key_height
from consensus.messages import Commit
from ledger.types import ValidatorIndex
from tests.unit.consensus.fake_chain import make_transactions
from tests.unit.consensus.harness import Cluster


def test_stable_checkpoints_discard_the_log_below_them() -> None:
    cluster = Cluster(4, seed=21, block_transactions_max=2, checkpoint_interval=5, window_max=4)
    cluster.submit(make_transactions(0, 24))
    assert cluster.run_until(cluster.all_reach(12))
    cluster.run_until(lambda: False, deadline_ms=100)
    for node in cluster.nodes:
        assert node.replica.get_status().stable_checkpoint == 10
        assert CHECKPOINT_KEY in node.log
        heights = [get_key_height(key) for key in node.log]
        assert all(height is None or height > 10 for height in heights), "log kept below the checkpoint"


def test_cut_off_backup_catches_up_by_state_transfer() -> None:
    cluster = Cluster(4, seed=22, block_transactions_max=2, checkpoint_interval=5, window_max=3)
    cluster.cut.add(3)
    cluster.submit(make_transactions(0, 40), to=[0, 1, 2])
    assert cluster.run_until(cluster.all_reach(20, cluster.nodes[:3]))
    assert cluster.nodes[3].height == 0

    cluster.cut.clear()
    cluster.submit(make_transactions(40, 20), to=[0, 1, 2])
    assert cluster.run_until(cluster.all_reach(30))
    cluster.assert_same_chain()
    lagging = cluster.nodes[3]
    assert lagging.fetches, "the lagging replica fetched"
    assert lagging.replica.get_status().state_transfers >= 1
    assert all(node.replica.get_status().view == 0 for node in cluster.nodes)  # no needless view change


def leave_replica_3_behind(seed: int, blocks: int) -> Cluster:
    """Four replicas (one transaction a block, two in flight) where 3 misses the first ``blocks``."""
    cluster = Cluster(4, seed=seed, block_transactions_max=1, checkpoint_interval=50, window_max=2)
    cluster.cut.add(3)
    cluster.submit(make_transactions(0, blocks), to=[0, 1, 2])
    assert cluster.run_until(cluster.all_reach(blocks, cluster.nodes[:3]))
    cluster.cut.clear()
    return cluster


def test_a_replica_back_in_an_idle_network_catches_up_once_a_link_comes_up() -> None:
    # Replica 3 was away while 20 blocks committed, and now nothing happens: no COMMIT or
    # CHECKPOINT will ever show it the gap. A new link is its one cue; it follows the chain
    # from that peer in parts, as far as the peer has it.
    cluster = leave_replica_3_behind(seed=28, blocks=20)
    cluster.run_until(lambda: False, deadline_ms=10_000)
    lagging = cluster.nodes[3]
    assert lagging.height == 0 and not lagging.fetches  # idle: nothing told it

    cluster.fetch_answer_max = 6
    cluster.run(3, lagging.replica.on_peer_connected(ValidatorIndex(1), cluster.now_ms))
    assert cluster.run_until(cluster.all_reach(20), deadline_ms=10_000)
    cluster.assert_same_chain()
    assert [fetch.peer for fetch in lagging.fetches] == [1, 1, 1, 1]  # 6 + 6 + 6 + 2 blocks, then done


def test_a_replica_stalled_behind_f_plus_1_peers_reports_asks_them_and_one_report_is_not_enough() -> None:
    # A partition that cut the payload but not the links ends with no link coming up: the
    # node's status poll, unsigned, is the cue. One peer's word could be a lie; f + 1 hold an
    # honest one, and what is fetched is still checked against its certificate.
    cluster = leave_replica_3_behind(seed=28, blocks=8)
    cluster.run_until(lambda: False, deadline_ms=10_000)
    lagging = cluster.nodes[3]
    cluster.run(3, lagging.replica.on_peers_ahead([ValidatorIndex(2), ValidatorIndex(3)], cluster.now_ms))
    assert not lagging.fetches, "itself and one peer are not f + 1 peers"
    cluster.run(3, lagging.replica.on_peers_ahead([ValidatorIndex(2), ValidatorIndex(0)], cluster.now_ms))
    assert cluster.run_until(cluster.all_reach(8), deadline_ms=10_000)
    cluster.assert_same_chain()
    assert lagging.fetches and lagging.fetches[0].peer in (0, 2)


def test_a_probe_that_lands_near_the_head_of_a_live_chain_stops_following_it() -> None:
    # Asking again after every short answer would fetch each new block twice, by votes and
    # by request, for as long as the chain grows.
    cluster = leave_replica_3_behind(seed=30, blocks=3)
    lagging = cluster.nodes[3]
    cluster.run(3, lagging.replica.on_peer_connected(ValidatorIndex(2), cluster.now_ms))
    assert cluster.run_until(cluster.all_reach(3))
    assert len(lagging.fetches) == 1
    cluster.submit(make_transactions(3, 12))
    assert cluster.run_until(cluster.all_reach(15))
    cluster.assert_same_chain()
    assert len(lagging.fetches) == 1, "it kept asking for blocks its votes were committing"


def test_a_new_link_to_a_peer_with_nothing_more_costs_one_round_of_empty_answers() -> None:
    cluster = Cluster(4, seed=29, block_transactions_max=1)
    cluster.submit(make_transactions(0, 2))
    assert cluster.run_until(cluster.all_reach(2))
    node = cluster.nodes[0]
    cluster.run(0, node.replica.on_peer_connected(ValidatorIndex(2), cluster.now_ms))
    cluster.run_until(lambda: False, deadline_ms=20_000)
    assert [(fetch.peer, fetch.from_height) for fetch in node.fetches] == [(2, 3), (1, 3), (3, 3)]
    status = node.replica.get_status()
    assert not status.blamed and status.state_transfers == 0 and node.height == 2


def test_bad_fetched_batch_is_blamed_and_another_peer_is_asked() -> None:
    cluster = Cluster(4, seed=23, block_transactions_max=2, checkpoint_interval=5, window_max=3)
    cluster.cut.add(3)
    cluster.submit(make_transactions(0, 40), to=[0, 1, 2])
    assert cluster.run_until(cluster.all_reach(20, cluster.nodes[:3]))
    cluster.corrupt_fetch_from |= {0, 1}  # two peers answer with a certificate short of a quorum
    cluster.cut.clear()
    cluster.submit(make_transactions(40, 20), to=[0, 1, 2])
    assert cluster.run_until(cluster.all_reach(30))
    cluster.assert_same_chain()
    lagging = cluster.nodes[3]
    status = lagging.replica.get_status()
    assert set(status.blamed) & {0, 1} and 2 not in status.blamed
    assert status.dropped.get("fetch_bad_certificate", 0) >= 1
    asked = [fetch.peer for fetch in lagging.fetches]
    assert 2 in asked


def test_on_fetched_refuses_blocks_that_do_not_link() -> None:
    source = Cluster(1, seed=24, batch_delay_ms=0)
    for nonce in range(3):
        source.submit(make_transactions(nonce, 1))
    chain = source.nodes[0].chain
    assert len(chain) == 3

    target = Cluster(1, seed=25)
    replica = target.nodes[0].replica
    actions = replica.on_fetched(0, [chain[1], chain[2]], target.now_ms)  # type: ignore[arg-type]
    assert replica.committed_height == 0 and replica.get_status().dropped == {"fetch_gap": 1}
    assert not [action for action in actions if isinstance(action, Fetch)]  # not fetching: nothing asked
    target.run(0, replica.on_fetched(0, chain, target.now_ms))  # type: ignore[arg-type]
    assert target.nodes[0].hashes == source.nodes[0].hashes


def test_backup_that_missed_the_last_commits_fetches_the_block_when_the_chain_goes_quiet() -> None:
    # No COMMIT for the last block reaches replica 3, and nothing follows it: no checkpoint,
    # no later COMMITs show it the gap. Its progress timer fires; the others, content, never
    # join its view change. It must ask its peers rather than wait alone for ever: it re-sends
    # its COMMIT, and the peers that delivered the block answer with theirs.
    cluster = Cluster(4, seed=26, window_max=1, checkpoint_interval=50)
    cluster.submit(make_transactions(0, 1))
    assert cluster.run_until(cluster.all_reach(1))
    cluster.filters.append(lambda sender, to, message: not (to == 3 and isinstance(message.body, Commit)))
    cluster.submit(make_transactions(1, 1))
    assert cluster.run_until(cluster.all_reach(2, cluster.nodes[:3]))
    cluster.filters.clear()
    lagging = cluster.nodes[3]
    assert lagging.height == 1
    assert cluster.run_until(cluster.all_reach(2), deadline_ms=20_000)
    cluster.assert_same_chain()
    assert lagging.replica.get_status().retransmits >= 1, "the lagging replica asked its peers"
    assert all(node.replica.get_status().view == 0 for node in cluster.nodes)  # no view change, alone or not


def test_backup_behind_a_view_change_fetches_what_the_others_committed_there() -> None:
    # Replica 3 misses the COMMITs of blocks 2 and 3; then the primary crashes. The NEW-VIEW
    # re-proposes them, but replicas 1 and 2 committed them already: they skip them, so replica 3
    # can never commit them by votes, block 4 lies beyond its window, and without replica 3 the
    # two of them are no quorum for block 4. No COMMIT of block 4 can show replica 3 the gap.
    cluster = Cluster(4, seed=27, window_max=1, checkpoint_interval=50)
    cluster.submit(make_transactions(0, 1))
    assert cluster.run_until(cluster.all_reach(1))
    cluster.filters.append(lambda sender, to, message: not (to == 3 and isinstance(message.body, Commit)))
    for nonce in (1, 2):
        cluster.submit(make_transactions(nonce, 1))
        assert cluster.run_until(cluster.all_reach(nonce + 1, cluster.nodes[:3]))
    assert cluster.nodes[3].height == 1
    cluster.crashed.add(0)
    cluster.filters.clear()
    cluster.submit(make_transactions(3, 1), to=[1, 2, 3])
    live = cluster.nodes[1:]
    assert cluster.run_until(cluster.all_reach(4, live), deadline_ms=30_000)
    cluster.assert_same_chain(live)
    assert cluster.nodes[3].fetches, "the lagging replica asked its peers"
