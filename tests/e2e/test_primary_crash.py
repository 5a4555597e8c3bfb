"""Killing the primary: the other three change view and go on committing; restarted, it catches up."""

from __future__ import annotations

import time

from tests.e2e.conftest import TIMINGS_S
from tests.e2e.network import HubNetwork, measure_s


def test_killed_primary_is_replaced_and_catches_up_after_restart(network: HubNetwork) -> None:
    primary, view = network.get_primary()
    survivors = [hub for hub in network.hubs if hub != primary]

    started = time.monotonic()
    network.compose.compose("kill", primary)
    record = network.transfer(via=survivors[0])
    TIMINGS_S["kill primary -> next commit (view change)"] = measure_s(started)
    tip = network.wait_in_sync(survivors, height_min=int(record["height"]))
    statuses = [network.get_status(hub) for hub in survivors]
    assert all(status and status["view"] > view and status["primary"] != primary for status in statuses), (
        f"no view change away from {primary} (view {view}): {statuses}"
    )

    started = time.monotonic()
    network.compose.compose("start", primary)
    network.wait_healthy()
    record = network.transfer(via=survivors[1])
    tip = network.wait_in_sync(height_min=int(record["height"]))
    TIMINGS_S["restart old primary -> caught up"] = measure_s(started)
    network.assert_same_blocks(network.hubs, tip)
