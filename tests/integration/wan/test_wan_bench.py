"""``hubledger bench --layout wan``: a very short run over the inter-city delays commits what it
offers, without a view change, and its result says where the hubs ran."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from hubledger_tools.wan.namespaces import get_unavailable_reason

RUN_TIMEOUT_S = 120


def test_a_short_bench_over_the_wan_commits_everything_and_records_the_layout(tmp_path: Path) -> None:
    reason = get_unavailable_reason()
    if reason is not None:
        pytest.skip(f"no network namespaces on this machine: {reason}")
    out = tmp_path / "result.json"
    command = [
        sys.executable, "-m", "hubledger_tools.cli", "bench", "--layout", "wan",
        "--rate", "50", "--duration", "2", "--senders", "8", "--sign-processes", "2",
        "--drain", "20", "--quiet", "--out", str(out),
    ]  # fmt: skip
    finished = subprocess.run(command, capture_output=True, text=True, timeout=RUN_TIMEOUT_S)
    assert finished.returncode == 0, finished.stdout + finished.stderr
    assert "layout: wan" in finished.stdout
    result = json.loads(out.read_text())
    assert result["submissions"]["committed"] == result["submissions"]["offered"] == 100
    assert result["settings"]["layout"] == "wan"
    assert result["settings"]["round_trips_ms"]["beijing-shenzhen"] == 45
    assert result["views_after"] == dict.fromkeys(["beijing", "shanghai", "shenzhen", "hangzhou"], 0)
    assert result["nodes"]["relay"]["measured"]


def test_the_wan_layout_refuses_hubs_it_has_no_round_trips_for() -> None:
    command = [
        sys.executable,
        "-m",
        "hubledger_tools.cli",
        "bench",
        "--layout",
        "wan",
        "--hubs",
        "beijing,lhasa",
    ]
    finished = subprocess.run(command, capture_output=True, text=True, timeout=RUN_TIMEOUT_S)
    assert finished.returncode != 0
    assert "--layout wan starts two to four of beijing" in finished.stdout + finished.stderr
