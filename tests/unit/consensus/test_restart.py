"""Crash recovery: a replica rebuilt from its persisted log never contradicts what it signed."""

from __future__ import annotations

from collections.abc import Sequence

from consensus.actions import Action, Broadcast, Deliver, Persist
from consensus.messages import Prepare, PrePrepare, SignedMessage, ViewChange, sign_message
from consensus.replica import Replica
from ledger.types import Height, ValidatorIndex, View
from tests.unit.consensus.fake_chain import (
    CHAIN_ID,
    GENESIS_HASH,
    GENESIS_TIME_MS,
    FakeApplication,
    get_key,
    make_config,
    make_transactions,
)
from tests.unit.consensus.harness import Cluster

NOW_MS = GENESIS_TIME_MS + 500


def make_replica(index: int, log: dict[bytes, bytes], n: int = 4) -> Replica:
    return Replica(
        config=make_config(n, index),
        key=get_key(100 + index),
        application=FakeApplication(),
        committed_height=Height(0),
        committed_hash=GENESIS_HASH,
        committed_timestamp_ms=GENESIS_TIME_MS,
        log_entries=sorted(log.items()),
    )


def make_proposal(first_nonce: int, *, view: int = 0) -> SignedMessage:
    primary = view % 4
    block = FakeApplication().build_block(
        previous_hash=GENESIS_HASH,
        height=Height(1),
        view=View(view),
        proposer=ValidatorIndex(primary),
        timestamp_ms=NOW_MS,  # type: ignore[arg-type]
        transactions=make_transactions(first_nonce, 2),
    )
    body = PrePrepare(View(view), Height(1), block)
    return sign_message(body, chain_id=CHAIN_ID, sender=ValidatorIndex(primary), key=get_key(100 + primary))


def apply_persists(log: dict[bytes, bytes], actions: Sequence[Action]) -> None:
    for action in actions:
        if isinstance(action, Persist):
            log.update(action.puts)
            for key in action.deletes:
                log.pop(key, None)


def get_broadcast_prepares(actions: Sequence[Action]) -> list[SignedMessage]:
    return [a.message for a in actions if isinstance(a, Broadcast) and isinstance(a.message.body, Prepare)]


def test_restarted_backup_never_prepares_a_second_block_for_one_slot() -> None:
    log: dict[bytes, bytes] = {}
    first = make_replica(1, log)
    actions = first.on_message(make_proposal(0), NOW_MS)
    apply_persists(log, actions)
    [prepare] = get_broadcast_prepares(actions)

    restarted = make_replica(1, log)
    restarted.start(NOW_MS)
    conflicting = restarted.on_message(make_proposal(10), NOW_MS)  # the primary equivocates after the crash
    assert get_broadcast_prepares(conflicting) == []
    assert restarted.faults["conflicts_own_vote"] == 1

    again = make_replica(1, log)
    resent = get_broadcast_prepares(again.on_message(make_proposal(0), NOW_MS))
    assert [message.encode() for message in resent] == [prepare.encode()]  # re-sent, not re-signed


def test_restarted_replica_returns_to_its_view_change_and_never_a_lower_view() -> None:
    log: dict[bytes, bytes] = {}
    replica = make_replica(2, log)
    keys = [get_key(100 + i) for i in range(4)]
    for sender in (0, 3):  # f + 1 want view 5: replica 2 joins
        body = ViewChange(View(5), Height(0), GENESIS_HASH, (), ())
        message = sign_message(body, chain_id=CHAIN_ID, sender=ValidatorIndex(sender), key=keys[sender])
        apply_persists(log, replica.on_message(message, NOW_MS))
    assert replica.view == 5 and replica.get_status().view_change_in_progress
    restarted = make_replica(2, log)
    status = restarted.get_status()
    assert status.view == 5 and status.view_change_in_progress
    actions = restarted.start(NOW_MS)
    resent = [a.message for a in actions if isinstance(a, Broadcast)]
    assert len(resent) == 1 and isinstance(resent[0].body, ViewChange) and resent[0].body.view == 5


def test_single_validator_delivers_a_block_it_committed_just_before_a_crash() -> None:
    log: dict[bytes, bytes] = {}
    replica = make_replica(0, log, n=1)
    actions = replica.on_request(make_transactions(0, 3), NOW_MS)
    actions += replica.on_timer(actions[-1].timer, NOW_MS + 5)  # type: ignore[union-attr]
    apply_persists(log, actions)
    [delivered] = [action for action in actions if isinstance(action, Deliver)]

    restarted = make_replica(0, log, n=1)  # the Deliver never reached the disk: height is still 0
    again = [action for action in restarted.start(NOW_MS + 10) if isinstance(action, Deliver)]
    assert [action.block.hash for action in again] == [delivered.block.hash]
    assert restarted.committed_height == 1


def test_replicas_restarted_mid_run_agree_and_no_one_equivocates() -> None:
    cluster = Cluster(4, seed=31, block_transactions_max=2, window_max=4, checkpoint_interval=4)
    cluster.submit(make_transactions(0, 10))
    assert cluster.run_until(lambda: cluster.nodes[0].height >= 2)
    cluster.crashed |= {0, 2}  # the primary and a backup stop, with blocks in flight
    cluster.run_until(lambda: False, deadline_ms=30)
    cluster.restart(0)
    cluster.restart(2)
    cluster.submit(make_transactions(10, 10))
    assert cluster.run_until(cluster.all_reach(10), deadline_ms=60_000)
    cluster.assert_same_chain()
    assert all(not node.evidence for node in cluster.nodes)
    nonces = sorted(tx.nonce for block, _ in cluster.nodes[1].chain for tx in block.transactions)
    assert nonces == list(range(20))
