"""A large message over a slow link is not mistaken for a silent peer. A NEW-VIEW may carry up
to ``message_bytes_max`` (64 MiB), a state-transfer answer 8 MiB: at WAN rates one frame takes
seconds to arrive, and pings queued behind it in the same TCP stream arrive after it. A link
that judged the peer silent while it was busy receiving from it would cut the frame, and the
re-sent frame, every time."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable

import pytest

from tests.integration.p2p.cluster import FAST, Cluster
from tests.integration.p2p.proxy import LinkProxy, link_through_proxy
from tests.waiting import wait_until

RATE_BYTES_PER_S = 1_000_000  # 8 Mbit/s; a 16 MiB NEW-VIEW at 100 Mbit/s takes as long as 1.6 MB here
PAYLOAD_BYTES = 2_000_000  # two seconds on the wire: longer than silence_max_ms


@pytest.fixture
async def linked_slowly(
    make_cluster: Callable[[int], Cluster],
) -> AsyncIterator[tuple[Cluster, LinkProxy]]:
    async for linked in link_through_proxy(make_cluster, rate_bytes_per_s=RATE_BYTES_PER_S):
        yield linked


async def test_a_message_that_takes_longer_than_the_silence_limit_to_arrive_is_delivered(
    linked_slowly: tuple[Cluster, LinkProxy],
) -> None:
    cluster, _ = linked_slowly
    assert FAST.silence_max_ms < PAYLOAD_BYTES / RATE_BYTES_PER_S * 1000  # the case this test is about
    payload = b"n" * PAYLOAD_BYTES
    started = time.monotonic()
    cluster.nodes[0].network.send(1, payload)
    await wait_until(lambda: cluster.nodes[1].payloads_from(0) == [payload], "the large message arriving",
                     deadline_s=10)
    print(f"{PAYLOAD_BYTES} bytes arrived after {time.monotonic() - started:.2f} s")
    for index, node in cluster.nodes.items():
        connects = node.network.get_stats()["peers"][1 - index]["connects"]  # type: ignore[index]
        assert connects == 1, f"node {index} relinked {connects - 1} times while the message travelled"
