"""View change: a silent or stalled primary is replaced and nothing prepared is lost."""

from __future__ import annotations

from collections.abc import Sequence

from consensus.actions import Action, Broadcast
from consensus.messages import Commit, NewView, PrePrepare, SignedMessage, ViewChange, sign_message
from consensus.view_change import choose_view_changes, validate_view_change
from ledger.types import Hash, Height, ValidatorIndex, View
from tests.unit.consensus.fake_chain import CHAIN_ID, GENESIS_HASH, get_key, make_transactions
from tests.unit.consensus.harness import Cluster
from tests.unit.consensus.test_restart import NOW_MS, make_replica

HASH_A = Hash(b"a" * 32)


def test_silent_primary_is_replaced_and_commits_resume() -> None:
    cluster = Cluster(4, seed=2, block_transactions_max=5)
    cluster.crashed.add(0)  # the primary of view 0 never says anything
    cluster.submit(make_transactions(0, 10))
    assert cluster.run_until(cluster.all_reach(2))
    cluster.assert_same_chain()
    for node in cluster.live():
        status = node.replica.get_status()
        assert status.view == 1 and status.primary == 1 and not status.view_change_in_progress
        assert status.view_changes == 1
    committed = sorted(tx.nonce for block, _ in cluster.nodes[1].chain for tx in block.transactions)
    assert committed == list(range(10))  # the requests forwarded to the dead primary were not lost


def test_two_dead_primaries_in_a_row_with_seven_validators() -> None:
    cluster = Cluster(7, seed=4, block_transactions_max=5)
    cluster.crashed |= {0, 1}
    cluster.submit(make_transactions(0, 10))
    assert cluster.run_until(cluster.all_reach(2))
    cluster.assert_same_chain()
    assert {node.replica.get_status().view for node in cluster.live()} == {2}


def test_prepared_but_uncommitted_block_survives_the_view_change() -> None:
    cluster = Cluster(4, seed=6, block_transactions_max=5)

    def no_commits(sender: int, to: int, message: SignedMessage) -> bool:
        return not isinstance(message.body, Commit)

    cluster.filters.append(no_commits)
    cluster.submit(make_transactions(0, 5))
    assert cluster.run_until(lambda: all(1 in node.replica._prepared for node in cluster.nodes))
    proposed = next(m.body.block for m in cluster.nodes[0].sent if isinstance(m.body, PrePrepare))
    assert all(node.height == 0 for node in cluster.nodes)  # prepared everywhere, committed nowhere

    cluster.crashed.add(0)
    cluster.filters.clear()  # view 0's COMMITs stay lost: re-sent, they would commit it in view 0
    cluster.filters.append(lambda sender, to, m: not (isinstance(m.body, Commit) and m.body.view == 0))
    assert cluster.run_until(cluster.all_reach(1))
    cluster.assert_same_chain()
    block, certificate = cluster.nodes[1].chain[0]
    assert block.hash == proposed.hash  # the very same block, re-proposed with its original header
    assert block.header.view == 0 and certificate.view == 1


def test_view_timeout_doubles_while_no_view_succeeds() -> None:
    cluster = Cluster(4, seed=8, view_timeout_ms=400, view_timeout_max_ms=1600)
    cluster.crashed.add(0)
    cluster.filters.append(lambda sender, to, message: not isinstance(message.body, NewView))
    cluster.submit(make_transactions(0, 3), to=[1, 2, 3])
    cluster.run_until(lambda: False, deadline_ms=20_000)
    node = cluster.nodes[2]
    status = node.replica.get_status()
    assert status.view_change_in_progress and status.committed_height == 0
    # request timeout 1000 ms, then 800, 1600, 1600, ... capped: about a dozen views in 20 s, not 50
    assert 8 <= status.view_changes <= 16


def test_commits_continue_across_many_blocks_after_the_view_change() -> None:
    cluster = Cluster(4, seed=9, block_transactions_max=2, window_max=3)
    cluster.submit(make_transactions(0, 6))
    assert cluster.run_until(cluster.all_reach(3))
    cluster.crashed.add(0)
    cluster.submit(make_transactions(6, 20), to=[1, 2, 3])
    assert cluster.run_until(cluster.all_reach(13))
    cluster.assert_same_chain()
    nonces = sorted(tx.nonce for block, _ in cluster.nodes[2].chain for tx in block.transactions)
    assert nonces == list(range(26))


def test_new_view_that_drops_a_prepared_block_is_refused() -> None:
    cluster = Cluster(4, seed=7, block_transactions_max=5)

    def no_commits(sender: int, to: int, message: SignedMessage) -> bool:
        return not isinstance(message.body, Commit)

    def drop_reproposals(sender: int, to: int, message: SignedMessage) -> SignedMessage:
        body = message.body
        if sender != 1 or not isinstance(body, NewView) or not body.pre_prepares:
            return message
        forged = NewView(body.view, body.view_changes, ())  # "forget" the prepared block
        return sign_message(forged, chain_id=CHAIN_ID, sender=ValidatorIndex(1), key=get_key(101))

    cluster.filters.append(no_commits)
    cluster.submit(make_transactions(0, 5))
    assert cluster.run_until(lambda: all(1 in node.replica._prepared for node in cluster.nodes))
    proposed = next(m.body.block for m in cluster.nodes[0].sent if isinstance(m.body, PrePrepare))
    cluster.crashed.add(0)
    cluster.filters.clear()  # view 0's COMMITs stay lost: re-sent, they would commit it in view 0
    cluster.filters.append(lambda sender, to, m: not (isinstance(m.body, Commit) and m.body.view == 0))
    cluster.rewriters.append(drop_reproposals)
    assert cluster.run_until(cluster.all_reach(1))
    cluster.assert_same_chain()
    assert cluster.nodes[2].chain[0][0].hash == proposed.hash
    assert all(cluster.nodes[i].replica.faults.get("bad_new_view", 0) >= 1 for i in (2, 3))
    assert all(node.replica.get_status().view == 2 for node in cluster.live())  # the liar was replaced


def own_view_changes(actions: Sequence[Action]) -> list[View]:
    return [
        action.message.body.view
        for action in actions
        if isinstance(action, Broadcast) and isinstance(action.message.body, ViewChange)
    ]


def view_change_from(sender: int, view: int) -> SignedMessage:
    body = ViewChange(View(view), Height(0), GENESIS_HASH, (), ())
    return sign_message(body, chain_id=CHAIN_ID, sender=ValidatorIndex(sender), key=get_key(100 + sender))


def test_a_primary_that_asks_to_leave_its_view_is_followed_at_once_into_the_next() -> None:
    backup = make_replica(2, {})
    backup.start(NOW_MS)
    assert own_view_changes(backup.on_message(view_change_from(0, 1), NOW_MS)) == [View(1)]
    assert backup.view == 1

    # However far the primary asks to jump, it deposes only itself: the next view, not its pick.
    other = make_replica(3, {})
    other.start(NOW_MS)
    assert own_view_changes(other.on_message(view_change_from(0, 6), NOW_MS)) == [View(1)]


def test_one_backup_asking_to_leave_moves_no_one() -> None:
    backup = make_replica(2, {})
    backup.start(NOW_MS)
    assert own_view_changes(backup.on_message(view_change_from(1, 1), NOW_MS)) == []
    assert backup.view == 0


def sent_view_changes(node_sent: Sequence[SignedMessage]) -> list[ViewChange]:
    return [message.body for message in node_sent if isinstance(message.body, ViewChange)]


def test_a_view_change_starts_from_the_committed_block_and_carries_only_blocks_in_flight() -> None:
    # Checkpoints every 50 blocks: 12 committed blocks are all above the stable checkpoint.
    # Starting from it, each VIEW-CHANGE carried all 12 whole blocks, and under load
    # (blocks of a megabyte) the NEW-VIEW outgrew the largest peer message: no view ever formed.
    cluster = Cluster(4, seed=11, block_transactions_max=1, window_max=2, checkpoint_interval=50)
    cluster.submit(make_transactions(0, 12))
    assert cluster.run_until(cluster.all_reach(12))
    cluster.crashed.add(0)
    cluster.submit(make_transactions(12, 4), to=[1, 2, 3])
    assert cluster.run_until(cluster.all_reach(16, cluster.live()))
    cluster.assert_same_chain(cluster.live())
    for node in cluster.live():
        (sent,) = sent_view_changes(node.sent)
        assert sent.checkpoint_height == 12 and node.replica.get_status().stable_checkpoint == 0
        assert {message.body.kind for message in sent.checkpoint_proof} == {"commit"}
        assert all(certificate.proposal.height > 12 for certificate in sent.prepared)
        assert len(sent.prepared) <= 2 * 2


def forge_commit_proof(views: Sequence[int]) -> ViewChange:
    proof = tuple(
        sign_message(
            Commit(View(view), Height(3), HASH_A), chain_id=CHAIN_ID, sender=ValidatorIndex(sender),
            key=get_key(100 + sender),
        )
        for sender, view in enumerate(views)
    )
    return ViewChange(View(5), Height(3), HASH_A, proof, ())


def test_a_commit_proof_holds_only_with_a_quorum_in_one_view() -> None:
    def check(body: ViewChange) -> str | None:
        message = sign_message(body, chain_id=CHAIN_ID, sender=ValidatorIndex(3), key=get_key(103))
        return validate_view_change(message, 4, 3)

    assert check(forge_commit_proof([4, 4, 4])) is None
    assert check(forge_commit_proof([4, 4])) == "bad_checkpoint_proof"
    assert check(forge_commit_proof([4, 4, 3])) == "bad_checkpoint_proof"  # no view has a quorum


def test_the_new_primary_chooses_the_quorum_whose_start_f_plus_one_reach() -> None:
    def at(sender: int, height: int) -> SignedMessage:
        body = ViewChange(View(5), Height(height), HASH_A, (), ())
        return sign_message(body, chain_id=CHAIN_ID, sender=ValidatorIndex(sender), key=get_key(100 + sender))

    # Replica 0 alone starts at 3 (a certificate only it holds): with three VIEW-CHANGEs the
    # start is 3, reached by one of them, so the primary waits; with all four it leaves 0 out.
    chosen, served = choose_view_changes([at(0, 3), at(1, 0), at(2, 0)], 3, 1)
    assert [m.sender for m in chosen] == [0, 1, 2] and not served
    chosen, served = choose_view_changes([at(0, 3), at(1, 0), at(2, 0), at(3, 0)], 3, 1)
    assert [m.sender for m in chosen] == [1, 2, 3] and served
    chosen, served = choose_view_changes([at(0, 3), at(1, 3), at(2, 1)], 3, 1)
    assert [m.sender for m in chosen] == [0, 1, 2] and served  # two reach 3: one is honest
