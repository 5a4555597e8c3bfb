"""Four hubs as real processes on 127.0.0.1 agree, survive the loss of any one hub, and heal."""

from __future__ import annotations

import signal
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from p2p.settings import P2PSettings
from tests.integration.harness import (
    LocalNetwork,
    Submitter,
    assert_same_chain,
    wait_committed_on,
    wait_for,
)

HUBS = ["beijing", "shanghai", "shenzhen", "hangzhou"]
FAST_VIEW_CHANGE = {
    "HUBLEDGER_CONSENSUS_VIEW_TIMEOUT_MS": "1000",
    "HUBLEDGER_CONSENSUS_REQUEST_TIMEOUT_MS": "2000",
}


@pytest.fixture
def network(tmp_path: Path) -> Iterator[LocalNetwork]:
    network = LocalNetwork(tmp_path / "net", HUBS, env=FAST_VIEW_CHANGE)
    network.start_all()
    wait_for(lambda: all(len(network.status(h)["connected_peers"]) == 3 for h in HUBS), what="full mesh")
    yield network
    network.stop_all()


def test_transactions_sent_to_every_hub_commit_identically(network: LocalNetwork) -> None:
    submitters = [Submitter(network, f"bank-{hub}", "central-bank") for hub in HUBS]
    last = []
    for round_ in range(10):
        for position, submitter in enumerate(submitters):
            last.append(submitter.transfer(HUBS[(position + round_) % 4]))
    for transaction_id in last[-4:]:
        wait_committed_on(network, "beijing", transaction_id)
    for transaction_id in last:
        record = wait_committed_on(network, "hangzhou", transaction_id)
        assert record["receipt"]["success"]
    assert_same_chain(network, HUBS)


def test_killing_the_primary_changes_view_and_commits_resume(network: LocalNetwork) -> None:
    submitter = Submitter(network, "bank-shanghai", "bank-shenzhen")
    wait_committed_on(network, "shanghai", submitter.transfer("shanghai"))
    primary = network.status("shanghai")["primary"]
    survivors = [hub for hub in HUBS if hub != primary]
    network.kill(primary, signal.SIGKILL)
    killed_at = time.monotonic()
    transaction_id = submitter.transfer(survivors[0])
    wait_committed_on(network, survivors[0], transaction_id, timeout_s=45)
    elapsed_s = time.monotonic() - killed_at
    print(f"view change after killing primary {primary}: commit resumed in {elapsed_s:.2f} s")
    assert network.status(survivors[0])["primary"] != primary
    network.start(primary)
    after = submitter.transfer(survivors[1])
    wait_committed_on(network, primary, after, timeout_s=45)
    assert_same_chain(network, HUBS)


QUEUED_MESSAGES_EXPIRE_S = P2PSettings().send_age_max_ms / 1000


@pytest.mark.parametrize("away_s", [0.0, QUEUED_MESSAGES_EXPIRE_S + 0.5], ids=["at_once", "later"])
def test_a_restarted_backup_catches_up_by_state_transfer(network: LocalNetwork, away_s: float) -> None:
    """Back at once, the backup finds its peers' messages for it still queued; back later, they
    have expired and the network is idle: only the probe on its new links shows it the gap."""
    primary = network.status("beijing")["primary"]
    backup = next(hub for hub in HUBS if hub != primary)
    others = [hub for hub in HUBS if hub != backup]
    submitter = Submitter(network, f"bank-{others[0]}", "central-bank")
    network.kill(backup, signal.SIGKILL)
    ids = [submitter.transfer(others[index % 3]) for index in range(30)]
    for transaction_id in ids:
        wait_committed_on(network, others[0], transaction_id)
    time.sleep(away_s)  # a scenario step, not a wait for a result: how long the backup stays away
    network.start(backup)
    wait_committed_on(network, backup, ids[-1], timeout_s=45)
    assert_same_chain(network, HUBS)


def test_killing_every_hub_loses_nothing_committed(network: LocalNetwork) -> None:
    submitter = Submitter(network, "bank-hangzhou", "central-bank")
    ids = [submitter.transfer(HUBS[index % 4]) for index in range(12)]
    for transaction_id in ids:
        wait_committed_on(network, "hangzhou", transaction_id)
    height = assert_same_chain(network, HUBS)
    hashes = network.block_hashes("beijing", height)
    for hub in HUBS:
        network.kill(hub, signal.SIGKILL)
    network.start_all()
    for hub in HUBS:
        assert network.block_hashes(hub, height) == hashes
    wait_committed_on(network, "beijing", submitter.transfer("shenzhen"), timeout_s=45)
