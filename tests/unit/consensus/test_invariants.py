"""The written invariants hold after every step of every harness run (``Cluster.run`` checks
them), and a state that breaks one is reported by name."""

from __future__ import annotations

import pytest

from consensus.errors import InvariantViolation
from consensus.messages import Prepare
from ledger.types import Height, ValidatorIndex, View
from tests.unit.consensus.fake_chain import make_transactions
from tests.unit.consensus.harness import Cluster
from tests.unit.consensus.test_bounds import HASH_A, HASH_B, make_replica, sign


def test_a_healthy_run_keeps_every_invariant() -> None:
    cluster = Cluster(4, seed=71, block_transactions_max=2, checkpoint_interval=3)
    cluster.submit(make_transactions(0, 12))
    assert cluster.run_until(cluster.all_reach(6))  # Cluster.run checks them after each step
    cluster.assert_same_chain()


def test_a_broken_rule_is_named() -> None:
    replica = make_replica(1)
    replica.check_invariants()
    replica._next_height = Height(0)
    with pytest.raises(InvariantViolation, match="next height to order is above the committed height"):
        replica.check_invariants()

    replica = make_replica(1)
    replica._view_start = Height(5)
    with pytest.raises(InvariantViolation, match="above the low-water mark"):
        replica.check_invariants()

    replica = make_replica(1)
    replica.on_message(sign(Prepare(View(3), Height(1), HASH_A), 2), 0)
    replica._future._bytes[ValidatorIndex(2)] += 1
    with pytest.raises(InvariantViolation, match="counted right"):
        replica.check_invariants()

    replica = make_replica(1)
    own = replica._sign(Prepare(View(0), Height(1), HASH_A))
    replica._own[("prepare", View(0), Height(1))] = own
    second = replica._sign(Prepare(View(0), Height(1), HASH_B))
    replica._get_slot(Height(1)).prepares[ValidatorIndex(1)] = second
    with pytest.raises(InvariantViolation, match="one vote this replica signed"):
        replica.check_invariants()


def test_the_signing_path_returns_what_it_signed_and_refuses_a_second_digest() -> None:
    replica = make_replica(1)
    first, fresh = replica._sign_once(Prepare(View(0), Height(1), HASH_A))
    assert fresh and replica._own[("prepare", View(0), Height(1))] is first
    again, fresh = replica._sign_once(Prepare(View(0), Height(1), HASH_A))
    assert again is first and not fresh  # re-sent, never re-signed
    with pytest.raises(InvariantViolation, match="would sign a second prepare"):
        replica._sign_once(Prepare(View(0), Height(1), HASH_B))
