"""The negative controls: where a fork is possible, the checker must report it.

A checker that never fails proves nothing. Two colluding validators out of
four are one more than PBFT tolerates; twins in two partitions, or
equivocators showing each half of the honest replicas its own block, then
make the honest replicas commit different blocks, and the checker must say so.

And with the floor a NEW-VIEW proves switched off (``view_floor_enforced``,
test only), the explorer must find the fork of issue 14, problem 1, by itself:
nothing here names the scenario (COMMITs reaching one replica, another's
VIEW-CHANGE lost to the new primary, the first replica cut off in the next view,
the new primary restarting after its NEW-VIEW); the explorer enumerates its
scopes in order until a case forks. Since the new primary builds its NEW-VIEW
on the VIEW-CHANGEs with the lowest starts, the fork needs that lost
VIEW-CHANGE too: the pairs scope, which puts two rules in one view, has it.
"""

from __future__ import annotations

from consensus.simulation.checker import AGREEMENT, CERTIFICATES
from consensus.simulation.explorer import SCOPES, make_case_config
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


def test_without_the_view_floor_the_explorer_finds_the_fork_by_itself() -> None:
    forks = (AGREEMENT, CERTIFICATES)
    explored = 0
    for name in ("small", "pairs", "default"):
        scope = SCOPES[name]
        for number in range(scope.cases):
            explored += 1
            result = run_simulation(make_case_config(scope, number, view_floor_enforced=False))
            if any(violation.invariant in forks for violation in result.violations):
                return
    raise AssertionError(f"no fork in {explored} cases with the view floor switched off")
