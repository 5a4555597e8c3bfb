"""Seven hubs tolerate two faults: with two validators killed the other five still commit."""

from __future__ import annotations

import signal
from pathlib import Path

from tests.integration.harness import LocalNetwork, Submitter, assert_same_chain, wait_committed_on, wait_for

HUBS = ["beijing", "shanghai", "shenzhen", "hangzhou", "chengdu", "wuhan", "xian"]


def test_seven_hubs_commit_with_two_killed(tmp_path: Path) -> None:
    network = LocalNetwork(tmp_path / "net", HUBS)
    try:
        network.start_all()
        wait_for(lambda: all(len(network.status(h)["connected_peers"]) == 6 for h in HUBS), what="full mesh")
        primary = network.status("beijing")["primary"]
        backups = [hub for hub in HUBS if hub != primary]
        for hub in backups[:2]:
            network.kill(hub, signal.SIGKILL)
        alive = [hub for hub in HUBS if hub not in backups[:2]]
        submitter = Submitter(network, "bank-wuhan", "central-bank")
        ids = [submitter.transfer(alive[index % len(alive)]) for index in range(10)]
        for transaction_id in ids:
            record = wait_committed_on(network, alive[0], transaction_id)
            assert record["receipt"]["success"]
        assert_same_chain(network, alive)
    finally:
        network.stop_all()
