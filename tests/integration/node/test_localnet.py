"""`hubledger localnet`: four hubs (and, asked, the regulator's observer) under one supervisor,
a killed hub comes back, Ctrl-C stops all."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

from hubledger_tools.netgen import OBSERVER_NAME, NetworkLayout, observer_config_name
from hubledger_tools.ports import find_port_base
from tests.integration.harness import LocalNetwork, Submitter, assert_same_chain, http_json, wait_for

HUBS = ["beijing", "shanghai", "shenzhen", "hangzhou"]


def node_pid(directory: Path, hub: str) -> int:
    config = directory / (f"{hub}.toml" if hub in HUBS else observer_config_name(OBSERVER_NAME))
    found = subprocess.run(["pgrep", "-f", str(config)], capture_output=True, text=True)
    pids = [int(pid) for pid in found.stdout.split()]
    return pids[0] if len(pids) == 1 else 0


def test_localnet_restarts_a_killed_hub_and_stops_cleanly(tmp_path: Path) -> None:
    base = find_port_base(2 * len(HUBS) + 1)
    layout = NetworkLayout(api_port_base=base, p2p_port_base=base + 4, observer_api_port_base=base + 8)
    network = LocalNetwork(tmp_path / "net", HUBS, layout=layout)  # generated here, run by localnet below
    observer = f"https://127.0.0.1:{base + 8}"
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
            "--observer",
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
        height = assert_same_chain(network, HUBS)
        wait_for(
            lambda: http_json(observer + "/readyz")[0] == 200
            and http_json(observer + "/v1/status")[1]["height"] >= height,
            what="the observer to follow the hubs",
        )
    finally:
        supervisor.send_signal(signal.SIGINT)
        code = supervisor.wait(timeout=30)
    assert code == 0
    survivors = [node for node in [*HUBS, "observer"] if node_pid(network.directory, node) != 0]
    assert survivors == [], "a node outlived localnet"
    assert f"{victim} exited with status" in (tmp_path / "localnet.log").read_text()
