"""A handful of the catalogue's scenarios, run against real processes as a tester runs them.

Each starts four hubs, applies its faults under load and must pass every check:
one chain on the honest hubs, every acknowledged transfer present, supply
conserved, evidence where a validator equivocated, no progress in a split.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from hubledger_tools.chaos.report import format_summary
from hubledger_tools.chaos.runner import run_scenario
from hubledger_tools.chaos.scenario import load_scenario

SCENARIOS = Path(__file__).resolve().parents[3] / "scenarios"


@pytest.mark.parametrize(
    "name", ["primary-crash", "split-two-two", "equivocating-primary", "conflicting-spends"]
)
def test_scenario_passes(name: str, tmp_path: Path) -> None:
    report = run_scenario(load_scenario(SCENARIOS / f"{name}.toml"), work_dir=tmp_path / "network")
    json_path, text_path = report.write(tmp_path / "reports")
    assert report.is_ok, format_summary(report)
    assert json_path.exists() and "timeline:" in text_path.read_text()
    assert report.load["acknowledged"] > 0 or name == "split-two-two"


def test_every_scenario_of_the_catalogue_loads_and_says_what_it_proves() -> None:
    paths = sorted(SCENARIOS.glob("*.toml"))
    assert len(paths) >= 12
    for path in paths:
        scenario = load_scenario(path)
        assert scenario.description.startswith("Proves:"), path.name
        assert scenario.duration_s <= 30, path.name
