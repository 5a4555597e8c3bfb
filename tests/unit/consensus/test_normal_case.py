"""The normal case: one validator commits alone; four commit the same pipelined chain."""

from __future__ import annotations

import pytest

from consensus.actions import Broadcast, Deliver, Persist, SetTimer, TimerKind
from consensus.config import ReplicaConfig
from consensus.errors import ConfigError
from consensus.replica import Replica
from ledger.certificate import validate_certificate
from ledger.transaction import Transaction
from ledger.types import Height
from tests.unit.consensus.fake_chain import (
    CHAIN_ID,
    GENESIS_HASH,
    GENESIS_TIME_MS,
    FakeApplication,
    get_key,
    make_config,
    make_transaction,
    make_transactions,
)
from tests.unit.consensus.harness import Cluster


def make_single(**overrides: object) -> tuple[Replica, FakeApplication]:
    application = FakeApplication()
    replica = Replica(
        config=make_config(1, 0, **overrides),
        key=get_key(100),
        application=application,
        committed_height=Height(0),
        committed_hash=GENESIS_HASH,
        committed_timestamp_ms=GENESIS_TIME_MS,
    )
    return replica, application


def test_single_validator_commits_a_block_alone_after_the_batch_delay() -> None:
    replica, _ = make_single()
    now_ms = GENESIS_TIME_MS + 100
    assert replica.start(now_ms) == []
    actions = replica.on_request(make_transactions(0, 3), now_ms)
    assert [type(action) for action in actions] == [SetTimer]
    timer = actions[0].timer  # type: ignore[union-attr]
    assert timer.kind is TimerKind.BATCH

    actions = replica.on_timer(timer, now_ms + 5)

    delivers = [action for action in actions if isinstance(action, Deliver)]
    assert len(delivers) == 1
    block, certificate = delivers[0].block, delivers[0].certificate
    assert [tx.nonce for tx in block.transactions] == [0, 1, 2]
    assert block.header.previous_hash == GENESIS_HASH and block.height == 1
    validate_certificate(
        certificate,
        chain_id=CHAIN_ID,
        validator_keys=make_config(1, 0).validator_keys,
        block_hash=block.hash,
        height=Height(1),
    )
    # the proposal and the commit vote are on disk before the block is delivered; nothing to send
    assert actions.index(delivers[0]) > max(i for i, a in enumerate(actions) if isinstance(a, Persist))
    assert not any(isinstance(action, Broadcast) for action in actions)
    assert replica.get_status().committed_height == 1


def test_single_validator_proposes_at_once_when_a_full_block_is_ready() -> None:
    replica, _ = make_single(block_transactions_max=2)
    actions = replica.on_request(make_transactions(0, 5), GENESIS_TIME_MS + 100)
    heights = [action.block.height for action in actions if isinstance(action, Deliver)]
    assert heights == [1, 2]  # two full blocks at once; the fifth transaction waits for the timer
    assert replica.get_status().pending_transactions == 1


def test_single_validator_leaves_out_inadmissible_transactions_and_gives_them_up() -> None:
    replica, _ = make_single(batch_delay_ms=0, request_timeout_ms=1000)
    good, bad = make_transaction(0), make_transaction(1, admissible=False)
    now_ms = GENESIS_TIME_MS + 100
    blocks = [a.block for a in replica.on_request([bad, good], now_ms) if isinstance(a, Deliver)]
    assert [block.transactions for block in blocks] == [(good,)]
    assert replica.get_status().pending_transactions == 1  # retried once the state changes
    for nonce in (2, 3, 4):
        now_ms += 10
        actions = replica.on_request([make_transaction(nonce)], now_ms)
        blocks += [action.block for action in actions if isinstance(action, Deliver)]
    assert [len(block.transactions) for block in blocks] == [1, 1, 1, 1]
    # Four blocks in 30 ms: under load a nonce gap lasts longer than that, so it is kept ...
    assert replica.get_status().pending_transactions == 1
    now_ms += 3 * 1000  # ... until it was left out for three request timeouts
    actions = replica.on_request([make_transaction(5)], now_ms)
    assert [len(a.block.transactions) for a in actions if isinstance(a, Deliver)] == [1]
    assert replica.get_status().pending_transactions == 0


def test_a_request_whose_predecessor_arrives_late_is_kept_while_blocks_go_by() -> None:
    # Under load, blocks follow each other in milliseconds while a sender's earlier
    # transaction is still on its way: giving the later one up after three blocks
    # stranded every later transaction of that sender.
    replica, _ = make_single(batch_delay_ms=0, request_timeout_ms=1000)
    follower = Transaction.create(
        get_key(7), chain_id=CHAIN_ID, nonce=101, contract="cbdc", method="transfer",
        args={"amount": 1, "needs": 100},
    )
    now_ms = GENESIS_TIME_MS + 100
    replica.on_request([follower], now_ms)
    for nonce in range(5):
        now_ms += 50
        replica.on_request([make_transaction(nonce)], now_ms)
    status = replica.get_status()
    assert status.committed_height == 6 and status.pending_transactions == 1  # an empty block, five more
    actions = replica.on_request([make_transaction(100)], now_ms + 50)
    committed = [tx for a in actions if isinstance(a, Deliver) for tx in a.block.transactions]
    assert committed == [make_transaction(100), follower]


def test_four_validators_commit_the_same_pipelined_chain() -> None:
    cluster = Cluster(4, seed=3, block_transactions_max=4, window_max=4)
    cluster.submit(make_transactions(0, 80))
    assert cluster.run_until(cluster.all_reach(20))
    cluster.assert_same_chain()
    assert all(node.height == 20 for node in cluster.nodes)
    committed = [
        tx.nonce for node in cluster.nodes[:1] for block, _ in node.chain for tx in block.transactions
    ]
    assert sorted(committed) == list(range(80))  # every transaction once, none lost
    assert cluster.nodes[0].in_flight_max > 1  # several heights were in flight at once
    assert all(node.replica.get_status().view == 0 for node in cluster.nodes)
    assert all(not node.evidence for node in cluster.nodes)


@pytest.mark.parametrize("seed", [11, 12, 13])
def test_reordered_delivery_still_commits_identically(seed: int) -> None:
    cluster = Cluster(4, seed=seed, delay_ms=(1, 40), block_transactions_max=3, window_max=8)
    for first in range(0, 45, 9):
        cluster.submit(make_transactions(first, 9))
        cluster.run_until(lambda: False, deadline_ms=7)
    assert cluster.run_until(cluster.all_reach(15))
    cluster.assert_same_chain()


def test_seven_validators_with_two_silent_commit() -> None:
    cluster = Cluster(7, seed=5, block_transactions_max=5)
    cluster.crashed |= {5, 6}
    cluster.submit(make_transactions(0, 25))
    assert cluster.run_until(cluster.all_reach(5))
    cluster.assert_same_chain()
    assert all(len(block_certificate[1].votes) >= 5 for block_certificate in cluster.nodes[0].chain)


def test_config_relations_are_checked() -> None:
    with pytest.raises(ConfigError, match="view_timeout_ms"):
        make_config(4, 0, batch_delay_ms=600).validate()
    with pytest.raises(ConfigError, match="self_index"):
        ReplicaConfig(chain_id=CHAIN_ID, validator_keys=(b"k",), self_index=3).validate()  # type: ignore[arg-type]
