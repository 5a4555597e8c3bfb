"""An oversize message costs its sender the link; link rules block, delay and heal payloads."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Callable

from p2p import Direction, LinkRule, LinkRules, PeerNetwork
from tests.integration.p2p.cluster import FAST, Cluster
from tests.waiting import wait_until


async def test_an_oversize_message_closes_the_link_and_counts_a_fault(
    make_cluster: Callable[[int], Cluster],
) -> None:
    cluster = make_cluster(3)
    strict = dataclasses.replace(FAST, message_bytes_max=64 * 1024)
    await cluster.start_node(0, dataclasses.replace(FAST, message_bytes_max=1024 * 1024))
    await cluster.start_node(1, strict)
    await cluster.start_node(2, strict)
    await cluster.wait_all_connected()
    sender, receiver, bystander = (cluster.nodes[index] for index in range(3))

    sender.network.send(1, b"x" * (200 * 1024))

    def get_faults() -> dict[str, int]:
        return receiver.network.get_stats()["peers"][0]["faults"]  # type: ignore[index,no-any-return]

    await wait_until(lambda: get_faults().get("oversize") == 1, "the receiver counting an oversize fault")
    assert receiver.payloads_from(0) == []
    # Everyone else keeps working, and the sender's link comes back for normal payloads.
    sender.network.broadcast(b"normal")
    bystander.network.send(1, b"from the bystander")
    await wait_until(lambda: receiver.payloads_from(2) == [b"from the bystander"], "the bystander's payload")
    await wait_until(lambda: bystander.payloads_from(0) == [b"normal"], "the bystander receiving")
    await wait_until(lambda: receiver.payloads_from(0) == [b"normal"], "the relinked receiver receiving")


async def test_a_partitioned_peer_receives_nothing_until_healed(
    make_cluster: Callable[[int], Cluster],
) -> None:
    cluster = make_cluster(3)
    nodes = await cluster.start_all()
    nodes[0].network.set_link_rules(LinkRules.partition([1]))

    nodes[0].network.broadcast(b"during partition")
    nodes[1].network.send(0, b"from the far side")
    await wait_until(lambda: nodes[2].payloads_from(0) == [b"during partition"], "the reachable peer")
    await wait_until(lambda: _dropped(nodes[0].network, 1).get("inbound_partitioned") == 1, "inbound drop")
    assert nodes[1].received == [] and nodes[0].payloads_from(1) == []
    assert _dropped(nodes[0].network, 1)["partitioned"] == 1

    nodes[0].network.set_link_rules(LinkRules())
    nodes[0].network.broadcast(b"healed")
    nodes[1].network.send(0, b"healed too")
    await wait_until(lambda: nodes[1].payloads_from(0) == [b"healed"], "the healed peer receiving")
    await wait_until(lambda: nodes[0].payloads_from(1) == [b"healed too"], "the healed peer sending")


async def test_delay_and_one_way_rules(make_cluster: Callable[[int], Cluster]) -> None:
    cluster = make_cluster(2)
    low, high = await cluster.start_all()
    # The undelayed payload must cross before the delayed ones: on a loaded machine one crossing can
    # take longer than 150 ms, so the delay is wide enough for a stall of the test process.
    delay_s = 0.5
    rule = LinkRule(delay_ms=int(delay_s * 1000), direction=Direction.OUTBOUND)
    low.network.set_link_rules(LinkRules({1: rule}))
    loop = asyncio.get_running_loop()
    started = loop.time()
    for number in range(5):
        low.network.send(1, b"late %d" % number)
    high.network.send(0, b"on time")
    await wait_until(lambda: low.payloads_from(1) == [b"on time"], "the undelayed direction")
    assert high.received == []
    await wait_until(lambda: len(high.received) == 5, "the delayed payloads")
    assert loop.time() - started >= delay_s
    assert high.payloads_from(0) == [b"late %d" % number for number in range(5)]

    low.network.set_link_rules(LinkRules({1: LinkRule(drop_fraction=1.0, direction=Direction.INBOUND)}))
    high.network.send(0, b"dropped")
    low.network.send(1, b"passes")
    await wait_until(lambda: high.payloads_from(0)[-1:] == [b"passes"], "the outbound payload")
    await wait_until(lambda: _dropped(low.network, 1).get("inbound_link_rule_drop") == 1, "the inbound drop")
    assert b"dropped" not in low.payloads_from(1)


def _dropped(network: PeerNetwork, peer: int) -> dict[str, int]:
    return network.get_stats()["peers"][peer]["dropped"]  # type: ignore[index,no-any-return]
