"""The checks the swarm and the explorer added: each one fires when it should.

A check that cannot fail proves nothing, so each is shown failing on purpose:
two commit certificates at one height, a broken replica invariant, and the
plan's building blocks (a message's round, a lost kind, a skewed clock).
"""

from __future__ import annotations

import pytest

from consensus.errors import InvariantViolation
from consensus.messages import Commit, ViewChange, sign_message
from consensus.replica import Replica
from consensus.simulation.checker import CERTIFICATES, REPLICA_INVARIANT, InvariantChecker
from consensus.simulation.explorer import SCOPES, make_case_config
from consensus.simulation.faults import ClockSkew, Loss, get_round, isolate
from hubledger_tools.simulation import CHAIN_ID, LedgerWorld, get_key, run_simulation
from ledger.types import Hash, Height, ValidatorIndex, View


def test_two_certificates_at_one_height_are_reported() -> None:
    world = LedgerWorld(4)
    checker = InvariantChecker(chain_id=CHAIN_ID, validator_keys=world.validator_keys, genesis_hash=Hash(b""))
    for view, digest, senders in ((0, b"a" * 32, (0, 1, 2)), (1, b"b" * 32, (1, 2, 3))):
        for sender in senders:
            body = Commit(View(view), Height(1), Hash(digest))
            signer = ValidatorIndex(sender)
            key = get_key(1_000 + sender)
            checker.on_commit_sent(sign_message(body, chain_id=CHAIN_ID, sender=signer, key=key))
    assert checker.has_broken(CERTIFICATES)
    assert not checker.is_safety_broken  # the run goes on, to see the fork delivered too


def test_a_broken_replica_invariant_stops_the_run(monkeypatch: pytest.MonkeyPatch) -> None:
    calls = []

    def check_invariants(self: Replica) -> None:
        calls.append(self)
        if len(calls) == 50:
            raise InvariantViolation("replica 2: a rule broken on purpose")

    monkeypatch.setattr(Replica, "check_invariants", check_invariants)
    result = run_simulation(make_case_config(SCOPES["small"], 0))
    assert [violation.invariant for violation in result.violations] == [REPLICA_INVARIANT]
    assert "broken on purpose" in result.violations[0].detail


def test_a_view_change_belongs_to_the_view_it_leaves() -> None:
    body = ViewChange(View(3), Height(0), Hash(bytes(32)), (), ())
    message = sign_message(body, chain_id=CHAIN_ID, sender=ValidatorIndex(1), key=get_key(1_001))
    assert get_round(message, sender_view=3) == 2
    assert get_round(None, sender_view=5) == 5


def test_a_loss_holds_for_its_kind_receivers_view_and_span() -> None:
    loss = Loss(frozenset({1, 2}), frozenset({"commit"}), view=0, start_ms=100, end_ms=200)
    assert loss.drops("commit", 0, 1, 0, 150)
    assert not loss.drops("prepare", 0, 1, 0, 150)
    assert not loss.drops("commit", 0, 3, 0, 150)
    assert not loss.drops("commit", 0, 1, 1, 150)
    assert not loss.drops("commit", 0, 1, 0, 200)
    inbound, outbound = isolate(2, 4, view=1)
    assert inbound.drops("fetch", 0, 2, 1, 0) and outbound.drops(None, 2, 3, 1, 0)
    assert not inbound.drops("commit", 0, 1, 1, 0)


def test_a_skewed_clock_runs_off_and_its_timers_with_it() -> None:
    skew = ClockSkew(offset_ms=-40_000, drift_ppm=50_000)  # 40 s slow, 5 % fast
    assert skew.local_ms(1_000, 11_000) == 1_000 - 40_000 + 10_000 + 500
    assert skew.virtual_delay_ms(1_050) == 1_000
