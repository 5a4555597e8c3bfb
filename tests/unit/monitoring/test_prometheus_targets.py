"""The Prometheus image's entry point scrapes exactly the validators of genesis.json."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from scripts.image.prometheus_targets import get_targets

SCRIPT = Path(__file__).resolve().parents[3] / "scripts" / "image" / "prometheus_targets.py"


def test_every_validator_is_a_target_named_by_its_hub() -> None:
    validators = [{"name": "beijing", "public_key": "02"}, {"name": "xian", "public_key": "03"}]
    genesis: dict[str, object] = {"validators": validators}
    assert get_targets(genesis, 8000) == [
        {"targets": ["beijing:8000"], "labels": {"instance": "beijing"}},
        {"targets": ["xian:8000"], "labels": {"instance": "xian"}},
    ]


@pytest.mark.parametrize(
    "genesis", [{}, {"validators": []}, {"validators": [{"name": "a:1/b"}]}, {"validators": ["x"]}]
)
def test_a_genesis_without_usable_validators_is_refused(genesis: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        get_targets(genesis, 8000)


def test_it_writes_the_targets_then_becomes_the_program(tmp_path: Path) -> None:
    (tmp_path / "genesis.json").write_text(json.dumps({"validators": [{"name": "shanghai"}]}))
    targets = tmp_path / "targets" / "hubledger.json"
    finished = subprocess.run(
        [sys.executable, str(SCRIPT), str(tmp_path / "genesis.json"), str(targets), "8000", "--",
         "/bin/echo", "prometheus started"],
        capture_output=True, text=True, timeout=30, check=False,
    )
    assert finished.returncode == 0, finished.stderr
    assert finished.stdout == "prometheus started\n"
    assert json.loads(targets.read_text())[0]["targets"] == ["shanghai:8000"]


def test_a_missing_genesis_is_one_line_and_status_1(tmp_path: Path) -> None:
    finished = subprocess.run(
        [sys.executable, str(SCRIPT), str(tmp_path / "absent.json"), str(tmp_path / "t.json"), "8000", "--",
         "/bin/true"],
        capture_output=True, text=True, timeout=30, check=False,
    )
    assert finished.returncode == 1 and finished.stderr.count("\n") == 1
