"""Limits on what a peer can make a replica hold or sign (issue 14, problems 2 to 5)."""

from __future__ import annotations

from typing import Any

from consensus.messages import Body, PrePrepare, SignedMessage, sign_message
from consensus.replica import Replica
from ledger.types import Height, TimestampMs, ValidatorIndex, View
from tests.unit.consensus.harness import (
    CHAIN_ID,
    GENESIS_HASH,
    GENESIS_TIME_MS,
    FakeApplication,
    get_key,
    make_config,
    make_transactions,
)

NOW_MS = GENESIS_TIME_MS + 500


def make_replica(index: int = 1, **overrides: Any) -> Replica:
    replica = Replica(
        config=make_config(4, index, **overrides),
        key=get_key(100 + index),
        application=FakeApplication(),
        committed_height=Height(0),
        committed_hash=GENESIS_HASH,
        committed_timestamp_ms=GENESIS_TIME_MS,
    )
    replica.start(NOW_MS)
    return replica


def sign(body: Body, sender: int) -> SignedMessage:
    return sign_message(body, chain_id=CHAIN_ID, sender=ValidatorIndex(sender), key=get_key(100 + sender))


def make_proposal(view: int, height: int, transactions: int, *, first_nonce: int = 0) -> SignedMessage:
    primary = view % 4
    block = FakeApplication().build_block(
        previous_hash=GENESIS_HASH,
        height=Height(height),
        view=View(view),
        proposer=ValidatorIndex(primary),
        timestamp_ms=TimestampMs(NOW_MS),
        transactions=make_transactions(first_nonce, transactions),
    )
    return sign(PrePrepare(View(view), Height(height), block), primary)


def test_a_block_beyond_the_configured_limits_is_not_prepared() -> None:
    replica = make_replica(block_transactions_max=2)
    assert replica.on_message(make_proposal(0, 1, 3), NOW_MS) == []
    assert replica.faults["block_too_many_transactions"] == 1
    replica = make_replica(block_bytes_max=1024)
    assert replica.on_message(make_proposal(0, 1, 10), NOW_MS) == []
    assert replica.faults["block_too_large"] == 1
    within = make_replica(block_transactions_max=2).on_message(make_proposal(0, 1, 2), NOW_MS)
    assert any(isinstance(getattr(action, "message", None), SignedMessage) for action in within)
