"""The swarm: each seed draws its own mix of faults; a short sweep must come out clean.

The sweep checks everything the catalogue sweep does, plus each honest replica's
own invariants after every step, conflicting commit certificates, liveness per
accepted request and one view for all honest replicas after the heal. It fails
on the replica of 3eec0ad (issue 14: problem 1, and the liveness problems 5 to
8 as request_liveness and view_convergence): marked ``needs_floor_fix``.
"""

from __future__ import annotations

import os
import random
import subprocess
import sys

import pytest

from consensus.simulation.swarm import draw_swarm_config
from hubledger_tools.cli.simulate import get_replay_command
from hubledger_tools.simulation import run_simulation

SWARM_SEEDS = 40
FIRST_SEED = 0


@pytest.mark.needs_floor_fix
def test_a_short_swarm_sweep_breaks_nothing() -> None:
    failures = []
    for seed in range(FIRST_SEED, FIRST_SEED + SWARM_SEEDS):
        result = run_simulation(draw_swarm_config(seed, random.Random(seed)))
        if not result.is_ok:
            failures.append(f"{get_replay_command(result.config)}: {'; '.join(map(str, result.violations))}")
    assert not failures, "\n".join(failures)


def test_each_seed_draws_its_own_mix() -> None:
    plans = [draw_swarm_config(seed, random.Random(seed)).plan for seed in range(12)]
    descriptions = {plan.description for plan in plans if plan is not None}
    assert len(descriptions) == 12


def test_a_swarm_seed_replays_event_for_event() -> None:
    config = draw_swarm_config(5, random.Random(5))
    first, second = run_simulation(config), run_simulation(draw_swarm_config(5, random.Random(5)))
    assert first.trace_digest == second.trace_digest
    assert (first.steps, first.heights, first.violations) == (second.steps, second.heights, second.violations)


def test_a_swarm_seed_replays_in_another_process_with_another_hash_seed() -> None:
    code = (
        "import random\n"
        "from consensus.simulation.swarm import draw_swarm_config\n"
        "from hubledger_tools.simulation import run_simulation\n"
        "print(run_simulation(draw_swarm_config(5, random.Random(5))).trace_digest)\n"
    )
    here = run_simulation(draw_swarm_config(5, random.Random(5))).trace_digest
    environment = {**os.environ, "PYTHONHASHSEED": "4321"}
    answer = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=environment, check=True, timeout=120
    )
    assert answer.stdout.strip() == here
