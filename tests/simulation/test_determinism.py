"""A run is a function of its seed: same seed, same events, same blocks, same verdict."""

from __future__ import annotations

import os
import subprocess
import sys

from consensus.simulation.simulator import SimulationConfig
from hubledger_tools.simulation import run_simulation


def test_the_same_seed_replays_event_for_event() -> None:
    config = SimulationConfig(seed=7, byzantine=("equivocate",))
    first, second = run_simulation(config), run_simulation(config)
    assert first.trace_digest == second.trace_digest
    assert (first.steps, first.heights, first.evidence) == (second.steps, second.heights, second.evidence)


def test_different_seeds_give_different_runs() -> None:
    digests = {run_simulation(SimulationConfig(seed=seed)).trace_digest for seed in range(4)}
    assert len(digests) == 4


def test_a_seed_replays_in_another_process_with_another_hash_seed() -> None:
    code = (
        "from consensus.simulation.simulator import SimulationConfig\n"
        "from hubledger_tools.simulation import run_simulation\n"
        "print(run_simulation(SimulationConfig(seed=7, byzantine=('equivocate',))).trace_digest)\n"
    )
    here = run_simulation(SimulationConfig(seed=7, byzantine=("equivocate",))).trace_digest
    environment = {**os.environ, "PYTHONHASHSEED": "12345"}
    answer = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=environment, check=True, timeout=120
    )
    assert answer.stdout.strip() == here
