"""A large message over a slow link is not mistaken for a silent peer. A NEW-VIEW may carry up
to ``message_bytes_max`` (64 MiB), a state-transfer answer 8 MiB: at WAN rates one frame takes
seconds to arrive, and pings queued behind it in the same TCP stream arrive after it. A link
that judged the peer silent while it was busy receiving from it would cut the frame, and the
re-sent frame, every time."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Callable

import pytest

from tests.integration.p2p.cluster import FAST, Cluster
from tests.waiting import wait_until

RATE_BYTES_PER_S = 1_000_000  # 8 Mbit/s; a 16 MiB NEW-VIEW at 100 Mbit/s takes as long as 1.6 MB here
PAYLOAD_BYTES = 2_000_000  # two seconds on the wire: longer than silence_max_ms
CHUNK_BYTES = 16 * 1024


class ThrottledProxy:
    """Forwards TCP both ways at ``RATE_BYTES_PER_S`` in each direction, as a slow WAN link does."""

    def __init__(self, target_port: int) -> None:
        self._target_port = target_port
        self._tasks: set[asyncio.Task[None]] = set()
        self._writers: list[asyncio.StreamWriter] = []
        self._server: asyncio.Server | None = None
        self.port = 0

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._on_client, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        for writer in self._writers:
            writer.close()

    async def _on_client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        upstream_reader, upstream_writer = await asyncio.open_connection("127.0.0.1", self._target_port)
        self._writers += [writer, upstream_writer]
        for source, sink in ((reader, upstream_writer), (upstream_reader, writer)):
            task = asyncio.create_task(self._pump(source, sink))
            self._tasks.add(task)

    async def _pump(self, source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
        with contextlib.suppress(ConnectionError):
            while data := await source.read(CHUNK_BYTES):
                sink.write(data)
                await sink.drain()
                await asyncio.sleep(len(data) / RATE_BYTES_PER_S)
            sink.close()


@pytest.fixture
async def linked_slowly(
    make_cluster: Callable[[int], Cluster],
) -> AsyncIterator[tuple[Cluster, ThrottledProxy]]:
    cluster = make_cluster(2)
    proxy = ThrottledProxy(cluster.ports[1])
    await proxy.start()
    await cluster.start_node(1)
    await cluster.start_node(0, peer_urls={1: f"wss://127.0.0.1:{proxy.port}/p2p"})
    await cluster.wait_all_connected()
    yield cluster, proxy
    await proxy.close()


async def test_a_message_that_takes_longer_than_the_silence_limit_to_arrive_is_delivered(
    linked_slowly: tuple[Cluster, ThrottledProxy],
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
