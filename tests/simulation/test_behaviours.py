"""Every Byzantine behaviour does what its name says, and honest replicas notice it.

A behaviour that silently did nothing would make the sweep prove nothing, so
each one is run over a few seeds and its trace checked in the honest
replicas: refusals at the door, refused blocks, stale or absurd views, and
evidence against the validator that signed twice.
"""

from __future__ import annotations

from collections import Counter

import pytest

from consensus.simulation.behaviours import CATALOGUE, FAULTY_NAMES
from consensus.simulation.simulator import SimulationConfig, SimulationResult
from hubledger_tools.simulation import run_simulation

SEEDS = range(200, 206)


def run_seeds(behaviour: str) -> list[SimulationResult]:
    results = [run_simulation(SimulationConfig(seed=seed, byzantine=(behaviour,))) for seed in SEEDS]
    for result in results:
        assert result.is_ok, (result.config.seed, result.violations)
    return results


def total_dropped(results: list[SimulationResult]) -> Counter[str]:
    total: Counter[str] = Counter()
    for result in results:
        total.update(result.dropped)
    return total


def test_the_catalogue_names_every_behaviour_of_the_issue() -> None:
    expected = {
        "silent",
        "crash",
        "equivocate",
        "double-vote",
        "forge",
        "corrupt",
        "replay",
        "stale-view",
        "future-view",
        "withhold",
        "slow-primary",
        "invalid-block",
        "twin",
        "checkpoint-flood",
        "future-flood",
        "pre-prepare-flood",
        "request-batch-flood",
        "below-floor-primary",
    }
    assert set(FAULTY_NAMES) == expected
    assert all(CATALOGUE[name].__doc__ for name in CATALOGUE)


@pytest.mark.parametrize("behaviour", ["equivocate", "double-vote"])
def test_signing_twice_leaves_evidence_against_the_signer(behaviour: str) -> None:
    results = run_seeds(behaviour)
    assert sum(result.evidence for result in results) > 0
    assert total_dropped(results)["equivocation"] > 0


@pytest.mark.parametrize(
    ("behaviour", "reason"),
    [
        ("forge", "door_bad_signature"),
        ("corrupt", "door_malformed"),
        ("invalid-block", "invalid_block"),
        ("stale-view", "stale_view"),
        ("future-view", "view_too_far"),
        ("replay", "duplicate"),
    ],
)
def test_honest_replicas_refuse_what_the_behaviour_sends(behaviour: str, reason: str) -> None:
    assert total_dropped(run_seeds(behaviour))[reason] > 0


@pytest.mark.parametrize("behaviour", ["silent", "crash", "withhold", "slow-primary"])
def test_the_network_commits_around_a_validator_that_holds_back(behaviour: str) -> None:
    for result in run_seeds(behaviour):
        assert min(result.heights[number] for number in result.honest) >= 1


@pytest.mark.parametrize("behaviour", ["checkpoint-flood", "future-flood", "request-batch-flood"])
def test_a_flood_reaches_the_honest_replicas(behaviour: str) -> None:
    """Each flood sends hundreds of messages or transactions; the honest replicas see and drop them."""
    assert sum(total_dropped(run_seeds(behaviour)).values()) >= 150
