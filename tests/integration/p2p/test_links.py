"""Four validators link pairwise over real sockets and carry payloads, in order, both ways."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from p2p import PeerUnavailable, RequestFailed
from p2p.errors import P2PError
from tests.integration.p2p.cluster import Cluster
from tests.waiting import wait_until


async def test_four_validators_link_pairwise_and_broadcast_reaches_all(
    make_cluster: Callable[[int], Cluster],
) -> None:
    cluster = make_cluster(4)
    nodes = await cluster.start_all()
    for node in nodes:
        assert node.network.connected_peers() == [peer for peer in range(4) if peer != node.index]

    nodes[2].network.broadcast(b"pre-prepare")
    others = [node for node in nodes if node.index != 2]
    await wait_until(lambda: all(node.payloads_from(2) == [b"pre-prepare"] for node in others),
                     "the broadcast at every other validator")
    assert nodes[2].received == []

    nodes[3].network.send(0, b"prepare for 0")
    await wait_until(lambda: nodes[0].payloads_from(3) == [b"prepare for 0"], "the send at node 0")
    assert nodes[1].payloads_from(3) == [] and nodes[2].payloads_from(3) == []


async def test_order_is_kept_per_link_in_both_directions(make_cluster: Callable[[int], Cluster]) -> None:
    cluster = make_cluster(2)
    low, high = await cluster.start_all()
    expected = [b"message %d" % number for number in range(300)]
    for payload in expected:
        low.network.send(1, payload)
        high.network.send(0, payload)
    await wait_until(lambda: len(high.received) == 300 and len(low.received) == 300, "all 300 each way")
    assert high.payloads_from(0) == expected
    assert low.payloads_from(1) == expected
    stats = low.network.get_stats()["peers"][1]  # type: ignore[index]
    assert stats["messages_sent"] == 300 and stats["messages_received"] == 300


async def test_request_gets_its_response_over_the_same_link(make_cluster: Callable[[int], Cluster]) -> None:
    cluster = make_cluster(3)
    nodes = await cluster.start_all()
    answers = [await nodes[0].network.request(peer, b"blocks 1..5") for peer in (1, 2)]
    assert answers == [b"answer to 0: blocks 1..5", b"answer to 0: blocks 1..5"]
    assert await nodes[2].network.request(0, b"from the top") == b"answer to 2: from the top"


async def test_a_failing_handler_answers_with_its_error_code(make_cluster: Callable[[int], Cluster]) -> None:
    async def refuse(peer: int, payload: bytes) -> bytes:
        raise P2PError("height range is empty", code="EMPTY_RANGE")

    cluster = make_cluster(2)
    await cluster.start_node(0)
    await cluster.start_node(1, on_request=refuse)
    await cluster.wait_all_connected()
    with pytest.raises(RequestFailed) as raised:
        await cluster.nodes[0].network.request(1, b"blocks 9..1")
    assert raised.value.code == "EMPTY_RANGE"
    # The link survives a refused request.
    assert await cluster.nodes[1].network.request(0, b"again") == b"answer to 1: again"


async def test_request_to_an_unlinked_peer_fails_at_once(make_cluster: Callable[[int], Cluster]) -> None:
    cluster = make_cluster(2)
    node = await cluster.start_node(0)
    with pytest.raises(PeerUnavailable):
        await node.network.request(1, b"anyone there?")
