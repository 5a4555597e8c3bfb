"""Killing the primary: the other three change view and go on committing; restarted, it catches up.
A primary frozen in place (docker pause: its sockets stay open and say nothing, as a dead
host's do) is replaced as fast, by the links' silence limit. Both within 3 s (docs/operators.md),
counted from before the docker command that stops it to the commit of a transfer sent right
after it (in-process, so that no command's start-up is counted)."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

from hubledger_client import Client
from hubledger_tools.trust import GENERATED_NETWORKS  # the compose network's CA, trusted by the fixture
from ledger.keys import PrivateKey
from tests.e2e.compose import run_command
from tests.e2e.conftest import TIMINGS_S
from tests.e2e.network import HubNetwork, measure_s

FAILOVER_MAX_S = 3.0


def transfer_in_process(url: str, key_file: Path, to_address: str) -> dict[str, Any]:
    """One CBDC transfer through the client library; returns its committed record."""
    key = PrivateKey.load(key_file)

    async def transfer() -> dict[str, Any]:
        async with Client(url, timeout_ms=30_000, ssl_context=GENERATED_NETWORKS) as client:
            return await client.call(key, "cbdc", "transfer", {"to": to_address, "amount": 1})

    return asyncio.run(transfer())


def stop_and_time_failover(network: HubNetwork, primary: str, via: str, docker_command: str) -> float:
    """``docker kill`` or ``docker pause`` the primary (the docker CLI: compose 1.29's own start-up
    takes seconds); seconds from before it until a transfer sent through ``via`` commits."""
    container = network.compose.get_container(primary)
    key_file, to_address = network.account_key("bank-beijing"), network.get_address("bank-shanghai")
    started = time.monotonic()
    run_command(["docker", docker_command, container])
    TIMINGS_S[f"  docker {docker_command} command"] = measure_s(started)
    transfer_in_process(network.url(via), key_file, to_address)
    return measure_s(started)


def test_killed_primary_is_replaced_and_catches_up_after_restart(network: HubNetwork) -> None:
    primary, view = network.get_primary()
    survivors = [hub for hub in network.hubs if hub != primary]

    failover_s = stop_and_time_failover(network, primary, survivors[0], "kill")
    TIMINGS_S["kill primary -> next commit (view change)"] = failover_s
    record = network.transfer(via=survivors[0])
    tip = network.wait_in_sync(survivors, height_min=int(record["height"]))
    statuses = [network.get_status(hub) for hub in survivors]
    assert all(status and status["view"] > view and status["primary"] != primary for status in statuses), (
        f"no view change away from {primary} (view {view}): {statuses}"
    )
    assert failover_s < FAILOVER_MAX_S, f"the killed primary was replaced after {failover_s} s"

    started = time.monotonic()
    network.compose.compose("start", primary)
    network.wait_healthy()
    record = network.transfer(via=survivors[1])
    tip = network.wait_in_sync(height_min=int(record["height"]))
    TIMINGS_S["restart old primary -> caught up"] = measure_s(started)
    network.assert_same_blocks(network.hubs, tip)


def test_frozen_primary_is_replaced_and_catches_up_after_unpause(network: HubNetwork) -> None:
    primary, view = network.get_primary()
    survivors = [hub for hub in network.hubs if hub != primary]

    try:
        failover_s = stop_and_time_failover(network, primary, survivors[0], "pause")
        TIMINGS_S["pause primary -> next commit (view change)"] = failover_s
        statuses = [network.get_status(hub) for hub in survivors]
        assert all(status and status["view"] > view for status in statuses), statuses
    finally:
        network.compose.compose("unpause", primary)
    assert failover_s < FAILOVER_MAX_S, f"the frozen primary was replaced after {failover_s} s"

    record = network.transfer(via=primary)
    tip = network.wait_in_sync(height_min=int(record["height"]))
    network.assert_same_blocks(network.hubs, tip)
