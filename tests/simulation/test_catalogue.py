"""A sweep of seeds over every behaviour of the catalogue: no invariant may break.

Each behaviour runs with one faulty validator out of four (f = 1), through
crashes, restarts, wiped storage, partitions and lossy links, then a heal;
the checker must find agreement, integrity, validity, conservation, evidence
and liveness intact in every seed.
"""

from __future__ import annotations

import pytest

from consensus.simulation.behaviours import CATALOGUE
from consensus.simulation.simulator import SimulationConfig
from hubledger_tools.cli.simulate import get_replay_command
from hubledger_tools.simulation import run_simulation

SEEDS_PER_BEHAVIOUR = 20
FIRST_SEED = 1_000  # away from the seeds used while developing: fresh schedules each time it grows


@pytest.mark.parametrize("behaviour", sorted(CATALOGUE))
def test_one_faulty_validator_breaks_nothing(behaviour: str) -> None:
    byzantine = () if behaviour == "honest" else (behaviour,)
    failures = []
    for seed in range(FIRST_SEED, FIRST_SEED + SEEDS_PER_BEHAVIOUR):
        result = run_simulation(SimulationConfig(seed=seed, byzantine=byzantine))
        if not result.is_ok:
            failures.append(f"{get_replay_command(result.config)}: {'; '.join(map(str, result.violations))}")
    assert not failures, "\n".join(failures)


def test_seven_validators_tolerate_two_faulty() -> None:
    for seed, pair in enumerate(
        [("equivocate", "double-vote"), ("twin", "silent"), ("slow-primary", "forge")]
    ):
        result = run_simulation(SimulationConfig(seed=seed, nodes=7, byzantine=pair))
        assert result.is_ok, f"{get_replay_command(result.config)}: {result.violations}"
        assert len(result.faulty) == 2
