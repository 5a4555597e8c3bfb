"""Links come back by themselves after a restart, and a faulty peer is cut off for its ban only."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Callable

import pytest

from tests.integration.p2p.cluster import FAST, Cluster
from tests.waiting import wait_until


@pytest.mark.parametrize("restarted", [0, 1], ids=["dialler-restarts", "listener-restarts"])
async def test_a_restarted_peer_is_relinked_and_payloads_flow_again(
    make_cluster: Callable[[int], Cluster], restarted: int
) -> None:
    cluster = make_cluster(2)
    await cluster.start_all()
    survivor = cluster.nodes[1 - restarted]
    await cluster.stop_node(restarted)
    await wait_until(lambda: survivor.network.connected_peers() == [], "the survivor noticing the loss")

    back = await cluster.start_node(restarted)
    await cluster.wait_all_connected()
    survivor.network.send(restarted, b"after restart")
    back.network.send(survivor.index, b"hello again")
    await wait_until(lambda: back.payloads_from(survivor.index) == [b"after restart"], "the restarted peer")
    await wait_until(lambda: survivor.payloads_from(restarted) == [b"hello again"], "the survivor receiving")


@pytest.mark.parametrize("accuser", [0, 1], ids=["dialler-bans", "listener-bans"])
async def test_faults_past_the_limit_drop_the_link_until_the_ban_ends(
    make_cluster: Callable[[int], Cluster], accuser: int
) -> None:
    ban_ms = 700
    settings = dataclasses.replace(FAST, faults_max=3, fault_ban_ms=ban_ms)
    cluster = make_cluster(2)
    await cluster.start_all(settings)
    judge, culprit = cluster.nodes[accuser], cluster.nodes[1 - accuser]
    for _ in range(3):
        judge.network.report_fault(culprit.index, "MALFORMED")
    assert judge.network.connected_peers() == [culprit.index], "faults_max faults are tolerated"

    judge.network.report_fault(culprit.index, "BAD_SIGNATURE")
    banned_at = asyncio_time()
    await wait_until(lambda: culprit.network.connected_peers() == [], "the culprit losing its link")
    judge.network.send(culprit.index, b"while banned")
    culprit.network.send(judge.index, b"while banned")

    await wait_until(lambda: judge.network.connected_peers() == [culprit.index], "relinking after the ban",
                     deadline_s=ban_ms / 1000 + 3)
    assert asyncio_time() - banned_at >= ban_ms / 1000
    stats = judge.network.get_stats()["peers"][culprit.index]  # type: ignore[index]
    assert stats["faults"] == {"BAD_SIGNATURE": 1, "MALFORMED": 3}
    assert stats["dropped"]["banned"] >= 1
    # What the judge had for the culprit was dropped; the culprit's own queue, kept across its
    # disconnection, may legitimately arrive once it is linked again.
    assert b"while banned" not in culprit.payloads_from(judge.index)

    judge.network.send(culprit.index, b"forgiven")
    await wait_until(lambda: culprit.payloads_from(judge.index) == [b"forgiven"], "payloads flowing again")


def asyncio_time() -> float:
    return asyncio.get_running_loop().time()


async def test_shutting_the_peer_app_down_first_is_prompt(make_cluster: Callable[[int], Cluster]) -> None:
    # The node's runner cleans its aiohttp apps up before it stops the network: open links
    # must not hold that shutdown up for aiohttp's shutdown timeout. That timeout is made far
    # longer than the bound, so that a prompt shutdown on a loaded machine is never mistaken for it.
    cluster = make_cluster(3)
    cluster.shutdown_timeout_s = 30.0
    nodes = await cluster.start_all()
    loop = asyncio.get_running_loop()
    started = loop.time()
    await nodes[2].runner.cleanup()
    await nodes[2].network.stop()
    assert loop.time() - started < 5.0
    await wait_until(lambda: nodes[0].network.connected_peers() == [1], "the others noticing")
