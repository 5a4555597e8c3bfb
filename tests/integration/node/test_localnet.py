"""`hubledger localnet`: four hubs under one supervisor, a killed hub comes back, Ctrl-C stops all."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

from tests.integration.harness import LocalNetwork, Submitter, assert_same_chain, wait_for

HUBS = ["beijing", "shanghai", "shenzhen", "hangzhou"]


def node_pid(directory: Path, hub: str) -> int:
    found = subprocess.run(["pgrep", "-f", str(directory / f"{hub}.toml")], capture_output=True, text=True)
    pids = [int(pid) for pid in found.stdout.split()]
    return pids[0] if len(pids) == 1 else 0


def test_localnet_restarts_a_killed_hub_and_stops_cleanly(tmp_path: Path) -> None:
    network = LocalNetwork(tmp_path / "net", HUBS)  # generated here, run by localnet below
    log = (tmp_path / "localnet.log").open("wb")
    supervisor = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "hubledger_tools.cli",
            "localnet",
            "--hubs",
            ",".join(HUBS),
            "--dir",
            str(network.directory),
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        wait_for(
            lambda: all(len(network.status(h)["connected_peers"]) == 3 for h in HUBS), what="four linked hubs"
        )
        submitter = Submitter(network, "bank-beijing", "central-bank")
        submitter.transfer("shanghai")
        victim = "shenzhen"
        pid = wait_for(lambda: node_pid(network.directory, victim), what=f"{victim}'s process")
        os.kill(pid, signal.SIGKILL)
        wait_for(
            lambda: node_pid(network.directory, victim) not in (0, pid), what=f"{victim} to be restarted"
        )
        for _ in range(5):
            submitter.transfer("hangzhou")
        wait_for(
            lambda: network.height(victim) >= 2 and network.height(victim) == network.height("beijing"),
            what=f"{victim} to catch up",
        )
        assert_same_chain(network, HUBS)
    finally:
        supervisor.send_signal(signal.SIGINT)
        code = supervisor.wait(timeout=30)
    assert code == 0
    assert all(node_pid(network.directory, hub) == 0 for hub in HUBS), "a node outlived localnet"
    assert f"{victim} exited with status" in (tmp_path / "localnet.log").read_text()
