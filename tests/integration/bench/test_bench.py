"""A very short ``hubledger bench`` against four real hubs: it commits what it offers and writes
a result that later runs can be compared with. (The benchmark itself is not a test.)"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from hubledger_tools.bench.report import format_comparison, load_result
from hubledger_tools.bench.settings import SENDERS_MAX
from hubledger_tools.bench.workload import FUNDING_PER_SENDER_FEN
from hubledger_tools.netgen import BANK_OPENING_BALANCE

RUN_TIMEOUT_S = 120


@pytest.fixture(scope="module")
def result(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    out = tmp_path_factory.mktemp("bench") / "result.json"
    command = [
        sys.executable, "-m", "hubledger_tools.cli", "bench",
        "--hubs", "4", "--rate", "100", "--duration", "2",
        "--senders", "8", "--sign-processes", "2", "--drain", "10", "--quiet", "--out", str(out),
    ]
    finished = subprocess.run(command, capture_output=True, text=True, timeout=RUN_TIMEOUT_S)
    assert finished.returncode == 0, finished.stdout + finished.stderr
    assert "committed/s" in finished.stdout  # the table was printed
    document: dict[str, Any] = json.loads(out.read_text())
    return document


def test_every_offered_transfer_commits_and_is_timed(result: dict[str, Any]) -> None:
    submissions = result["submissions"]
    assert submissions["offered"] == 200
    assert submissions["outcomes"] == {"pending": 200}
    assert submissions["committed"] == 200 and submissions["drained"]
    latency = result["latency"]
    assert latency["committed"] == 200
    assert 0 < latency["p50_ms"] <= latency["p95_ms"] <= latency["p99_ms"] <= latency["max_ms"]
    assert result["sustained"]["committed_per_s"] > 0
    assert result["blocks"]["count"] >= 1


def test_result_describes_machine_nodes_and_signature_ceiling(result: dict[str, Any]) -> None:
    machine = result["machine"]
    assert machine["cores"] >= 1 and machine["memory_bytes"] > 0 and machine["python"].startswith("3.")
    assert result["settings"]["hubs"] == ["beijing", "shanghai", "shenzhen", "hangzhou"]
    assert result["settings"]["rate_per_s"] == 100
    verification = result["verification"]
    assert verification["per_s_per_core"] > 100
    assert verification["ceiling_per_s"] == round(machine["cores"] * verification["per_s_per_core"] / 4)
    assert 0 < verification["efficiency"] < 1
    for hub in result["settings"]["hubs"]:
        node = result["nodes"][hub]
        assert node["measured"] and node["cpu_seconds"] > 0 and node["vm_hwm_bytes"] > 10 * 1024 * 1024


def test_a_result_compares_with_itself_without_change(result: dict[str, Any], tmp_path: Path) -> None:
    path = tmp_path / "old.json"
    path.write_text(json.dumps(result))
    comparison = format_comparison(load_result(path), result)
    assert "sustained committed tx/s" in comparison
    assert "+0.0%" in comparison and "worse" not in comparison and "better" not in comparison


def test_one_hub_bank_can_fund_as_many_senders_as_the_bench_allows() -> None:
    # With --hubs 1 one bank funds every sender: 200 senders once took it past its balance.
    assert SENDERS_MAX * FUNDING_PER_SENDER_FEN <= BANK_OPENING_BALANCE


def test_bad_arguments_are_one_sentence_and_status_2() -> None:
    finished = subprocess.run(
        [sys.executable, "-m", "hubledger_tools.cli", "bench", "--nodes", "http://127.0.0.1:1"],
        capture_output=True, text=True, timeout=30,
    )
    assert finished.returncode == 2
    assert finished.stderr.strip() == "error: --nodes needs --network DIR (the network's accounts/ keys)"


def test_a_hub_that_missed_the_load_is_timed_replaying_it(tmp_path: Path) -> None:
    out = tmp_path / "catch-up.json"
    command = [
        sys.executable, "-m", "hubledger_tools.cli", "bench",
        "--hubs", "4", "--rate", "100", "--duration", "2",
        "--senders", "8", "--sign-processes", "2", "--drain", "10", "--quiet", "--catch-up",
        "--out", str(out),
    ]
    finished = subprocess.run(command, capture_output=True, text=True, timeout=RUN_TIMEOUT_S)
    assert finished.returncode == 0, finished.stdout + finished.stderr
    assert "catch-up: hangzhou replayed blocks" in finished.stdout
    document = json.loads(out.read_text())
    catch_up = document["catch_up"]
    assert catch_up["hub"] == "hangzhou" and catch_up["to_height"] > catch_up["from_height"]
    assert catch_up["blocks"] == catch_up["to_height"] - catch_up["from_height"]
    assert catch_up["transactions"] >= 200  # every transfer of the load committed while it was down
    assert 0 < catch_up["seconds_replaying"] <= catch_up["seconds_from_start"]
    assert catch_up["transactions_per_s"] > 0
    assert document["submissions"]["committed"] == 200
    assert set(document["nodes"]) == {"beijing", "shanghai", "shenzhen"}  # the others carried the load


@pytest.mark.parametrize(
    ("arguments", "sentence"),
    [
        (["--hubs", "3"], "4 hubs or more"),
        (["--hubs", "4", "--observe", "hangzhou"], "--observe another"),
    ],
)
def test_a_catch_up_that_cannot_work_is_refused_with_a_sentence(arguments: list[str], sentence: str) -> None:
    command = [sys.executable, "-m", "hubledger_tools.cli", "bench", "--catch-up", *arguments]
    finished = subprocess.run(command, capture_output=True, text=True, timeout=RUN_TIMEOUT_S)
    assert finished.returncode == 2 and sentence in finished.stderr
