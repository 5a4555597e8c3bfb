"""The negative control: with f + 1 faulty validators the checker must report the fork.

A checker that never fails proves nothing. Two colluding validators out of
four are one more than PBFT tolerates; twins in two partitions, or
equivocators showing each half of the honest replicas its own block, then
make the honest replicas commit different blocks, and the checker must say so.
"""

from __future__ import annotations

from consensus.simulation.checker import AGREEMENT
from consensus.simulation.simulator import SimulationConfig
from hubledger_tools.simulation import run_simulation


def test_f_plus_one_twins_fork_the_chain_and_the_checker_reports_it() -> None:
    for seed in range(3):
        result = run_simulation(SimulationConfig(seed=seed, byzantine=("twin", "twin"), collude=True))
        assert any(violation.invariant == AGREEMENT for violation in result.violations), seed


def test_f_plus_one_colluding_equivocators_are_caught_forking() -> None:
    broken = [
        seed
        for seed in range(12)
        if any(
            violation.invariant == AGREEMENT
            for violation in run_simulation(
                SimulationConfig(seed=seed, byzantine=("equivocate", "equivocate"), collude=True)
            ).violations
        )
    ]
    assert broken, "two colluding equivocators never forked four replicas in 12 seeds"


def test_f_twins_alone_cannot_fork() -> None:
    for seed in range(3):
        result = run_simulation(SimulationConfig(seed=seed, byzantine=("twin",), collude=True))
        assert result.is_ok, result.violations
