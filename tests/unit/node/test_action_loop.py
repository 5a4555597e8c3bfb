"""The node carries out the replica's answers one at a time, in order, never re-entrantly.

Carrying out an answer can produce another: delivering a block commits it, the
commit makes waiting transactions ready, and offering them to the replica gets
a new answer. When that inner answer ran at once, inside the outer one, an
outer CancelTimer listed after the Deliver cancelled the timer the inner answer
had just set: the batch timer of the offered transactions was lost and they
waited for the request timeout and a view change. Now the inner answer waits
until the outer one is done.
"""

from __future__ import annotations

from collections.abc import Sequence
from types import SimpleNamespace
from typing import Any

import pytest

from consensus.actions import Action, CancelTimer, Deliver, SetTimer, Timer, TimerKind
from ledger.keys import PrivateKey
from ledger.transaction import Transaction
from ledger.types import View
from node.service import Node

BATCH = Timer(TimerKind.BATCH, View(0))


class AnsweringReplica:
    """Stands in for the replica: records what it is offered and answers with ``answer``."""

    def __init__(self, view: View, answer: Sequence[Action]) -> None:
        self.view = view
        self.answer = answer
        self.offered: list[list[Transaction]] = []

    def on_request(self, transactions: list[Transaction], now_ms: int) -> Sequence[Action]:
        self.offered.append(transactions)
        return self.answer


def transfer(node: Node, key: PrivateKey, nonce: int) -> Transaction:
    to = PrivateKey.from_secret(99).public_key.address.hex()
    return Transaction.create(
        key, chain_id=node.genesis.chain_id, nonce=nonce, contract="cbdc", method="transfer",
        args={"to": to, "amount": 1},
    )


def deliver(*transactions: Transaction) -> Deliver:
    """A Deliver of a block holding ``transactions``; the commit itself is stubbed out below."""
    header = SimpleNamespace(timestamp_ms=0)
    block: Any = SimpleNamespace(transactions=list(transactions), height=1, header=header)
    certificate: Any = SimpleNamespace(view=View(0))
    return Deliver(block=block, certificate=certificate)


async def test_an_answer_given_during_a_commit_runs_after_the_rest_of_the_commits_answer(
    node: Node, tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    key = PrivateKey.load(tmp_path / "net" / "accounts" / "bank-beijing.pem")
    committed, waiting = transfer(node, key, nonce=5), transfer(node, key, nonce=0)
    assert node.mempool.add(waiting, 0)
    replica = AnsweringReplica(node.replica.view, [SetTimer(BATCH, delay_ms=60_000)])
    monkeypatch.setattr(node, "replica", replica)
    monkeypatch.setattr(node.application, "commit_blocks", lambda blocks: [[] for _ in blocks])
    order: list[str] = []
    set_timer, carry_out = node._set_timer, node._carry_out

    def recorded_set_timer(timer: Timer, delay_ms: int) -> None:
        order.append(f"set {timer.kind.value}")
        set_timer(timer, delay_ms)

    def recorded_carry_out(actions: Sequence[Action]) -> None:
        order.append(f"answer of {len(actions)}")
        carry_out(actions)

    monkeypatch.setattr(node, "_set_timer", recorded_set_timer)
    monkeypatch.setattr(node, "_carry_out", recorded_carry_out)
    try:
        node._run([deliver(committed), CancelTimer(BATCH)])

        assert replica.offered == [[waiting]]  # the commit made the waiting transfer ready
        assert order == ["answer of 2", "answer of 1", "set batch"]  # the inner answer ran second
        assert BATCH in node._timers, "the outer CancelTimer cancelled the timer the inner answer set"
        assert not node._answers and not node._running_answers
    finally:
        for handle in node._timers.values():
            handle.cancel()


async def test_a_failing_answer_drops_the_answers_it_caused(
    node: Node, monkeypatch: pytest.MonkeyPatch
) -> None:
    replica = AnsweringReplica(node.replica.view, [])
    monkeypatch.setattr(node, "replica", replica)

    def fail(actions: Sequence[Action]) -> None:
        node._run([SetTimer(BATCH, delay_ms=60_000)])  # queued behind the failing answer
        raise RuntimeError("disk full")

    monkeypatch.setattr(node, "_carry_out", fail)
    with pytest.raises(RuntimeError):
        node._run([CancelTimer(BATCH)])
    assert not node._answers and not node._running_answers and not node._timers
