"""A node whose event loop stalls past the links' silence limit (1.2 s: a GC pause, a large
block, a starved host) loses its links and re-dials them: nobody may change view for a backup
that stalled, and the votes it missed while its links were down are recovered."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.harness import LocalNetwork, Submitter, assert_same_chain, wait_committed_on, wait_for

HUBS = ["beijing", "shanghai", "shenzhen", "hangzhou"]
STALL_S = 1.5  # past the silence limit (1.2 s), well short of any consensus timeout


@pytest.fixture
def network(tmp_path: Path) -> Iterator[LocalNetwork]:
    network = LocalNetwork(tmp_path / "net", HUBS)
    yield network
    for hub in list(network.processes):
        network.resume(hub)  # a paused process cannot be terminated
    network.stop_all()


def test_a_backup_stalled_past_the_silence_limit_costs_no_view_change(network: LocalNetwork) -> None:
    network.start_all()
    wait_for(lambda: all(len(network.status(hub)["connected_peers"]) == 3 for hub in HUBS), what="full mesh")
    submitter = Submitter(network, "bank-beijing", "bank-shanghai")
    wait_committed_on(network, "hangzhou", submitter.transfer("shanghai"))
    view = int(network.status("shanghai")["view"])
    primary = HUBS[view % len(HUBS)]
    stalled = next(hub for hub in HUBS if hub != primary)
    other = next(hub for hub in HUBS if hub not in (primary, stalled))

    network.pause(stalled)
    ids = [submitter.transfer(other)]  # ordered without it: a quorum is left
    time.sleep(STALL_S)
    network.resume(stalled)
    ids.append(submitter.transfer(stalled))  # offered by the node that stalled
    for transaction_id in ids:
        for hub in HUBS:
            wait_committed_on(network, hub, transaction_id, timeout_s=30)
    wait_for(lambda: all(len(network.status(hub)["connected_peers"]) == 3 for hub in HUBS), what="links back")
    views = {hub: int(network.status(hub)["view"]) for hub in HUBS}
    assert set(views.values()) == {view}, f"a stall of {STALL_S} s by a backup changed view: {views}"
    assert_same_chain(network, HUBS)
    silent = sum(network.log_text(hub).count("peer silent") for hub in HUBS)
    print(f"backup {stalled} stalled {STALL_S} s: {silent} links judged silent, views {views}")
