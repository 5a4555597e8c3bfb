"""A real ``hubledger node`` on a damaged database refuses to start: one log line, exit status 3."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from storage.integrity import DATABASE_CORRUPT_EXIT_STATUS
from tests.integration.harness import LocalNetwork, Submitter, wait_committed_on

EXIT_DEADLINE_S = 60.0


def flip_bytes(path: Path, *, fractions: tuple[float, ...], count: int) -> None:
    data = bytearray(path.read_bytes())
    for fraction in fractions:
        start = int(len(data) * fraction)
        for offset in range(start, min(start + count, len(data))):
            data[offset] ^= 0xFF
    path.write_bytes(bytes(data))


def test_a_node_on_a_damaged_log_refuses_with_the_documented_line_and_status(tmp_path: Path) -> None:
    network = LocalNetwork(tmp_path / "net", ["beijing"])
    network.start_all()
    try:
        submitter = Submitter(network, "bank-beijing", "central-bank")
        last = [submitter.transfer("beijing") for _ in range(5)][-1]
        wait_committed_on(network, "beijing", last)
    finally:
        network.stop_all()
    data_dir = network.directory / "data" / "beijing"
    logs = [path for path in data_dir.glob("*.log") if path.stat().st_size > 0]
    assert logs, f"no write-ahead log in {sorted(path.name for path in data_dir.iterdir())}"
    flip_bytes(logs[0], fractions=(0.25, 0.5, 0.75), count=16)

    log_path = network.directory / "beijing-restart.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [
                sys.executable, "-m", "hubledger_tools.cli",
                "node", "--config", str(network.directory / "beijing.toml"),
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            env=network.env,
        )
        try:
            status = process.wait(timeout=EXIT_DEADLINE_S)
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()
    text = log_path.read_text()
    assert status == DATABASE_CORRUPT_EXIT_STATUS == 3, text
    assert "Traceback" not in text
    lines = [json.loads(line) for line in text.splitlines() if "database_corrupt" in line]
    assert len(lines) == 1, text
    line = lines[0]
    assert line["code"] == "DATABASE_CORRUPT"
    assert line["exit_status"] == 3
    assert "state transfer" in line["repair"] and "backup" in line["repair"]
    assert line["problem"]
    assert "serving" not in text
