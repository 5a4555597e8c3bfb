"""``hubledger simulate``: the swarm, the explorer and sweeps on several processes, as a tester types them."""

from __future__ import annotations

import pytest

from hubledger_tools.cli.main import main


def test_one_explorer_case_prints_its_faults_and_replay(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["simulate", "--explore", "--scope", "small", "--case", "0"]) == 0
    out = capsys.readouterr().out
    assert "faults: view 0: none; view 1: none" in out
    assert "replay: hubledger simulate --explore --scope small --case 0" in out


def test_a_swarm_sweep_runs_on_two_processes_in_seed_order(capsys: pytest.CaptureFixture[str]) -> None:
    status = main(["simulate", "--swarm", "--seed", "40", "--seeds", "3", "--jobs", "2", "--json"])
    lines = [line for line in capsys.readouterr().out.splitlines() if line.startswith("{")]
    assert status in (0, 1)
    assert [line.split('"seed": ')[1].split(",")[0] for line in lines] == ["40", "41", "42"]
    assert all("--swarm --seed" in line for line in lines)


@pytest.mark.parametrize(
    "arguments",
    [["--case", "3"], ["--explore", "--case", "99999"], ["--explore", "--swarm"], ["--swarm", "--jobs", "0"]],
)
def test_bad_arguments_are_refused_with_a_sentence(
    arguments: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["simulate", *arguments]) == 2
    assert capsys.readouterr().err.startswith("error: ")
