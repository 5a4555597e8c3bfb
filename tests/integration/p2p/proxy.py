"""A TCP proxy between two linked nodes, standing in for the network between them: it can
carry bytes at a WAN's rate, or drop every byte and keep both sockets open, as a network does
for a host that died (no reset comes)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable

from tests.integration.p2p.cluster import Cluster

CHUNK_BYTES = 16 * 1024


class LinkProxy:
    """Forwards TCP both ways to ``target_port``, at most ``rate_bytes_per_s`` each way when given."""

    def __init__(self, target_port: int, *, rate_bytes_per_s: int | None = None) -> None:
        self._target_port = target_port
        self._rate_bytes_per_s = rate_bytes_per_s
        self._dropping = False
        self._tasks: set[asyncio.Task[None]] = set()
        self._writers: list[asyncio.StreamWriter] = []
        self._server: asyncio.Server | None = None
        self.port = 0

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._on_client, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    def blackhole(self) -> None:
        """From now on every byte is dropped and both sockets stay open."""
        self._dropping = True

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
                if self._dropping:
                    continue
                sink.write(data)
                await sink.drain()
                if self._rate_bytes_per_s:
                    await asyncio.sleep(len(data) / self._rate_bytes_per_s)
            await asyncio.Event().wait()  # the far end closed: a dead host would not say so either


async def link_through_proxy(
    make_cluster: Callable[[int], Cluster], *, rate_bytes_per_s: int | None = None
) -> AsyncIterator[tuple[Cluster, LinkProxy]]:
    """Two nodes, node 0 dialling node 1 through a ``LinkProxy``; closed after the test."""
    cluster = make_cluster(2)
    proxy = LinkProxy(cluster.ports[1], rate_bytes_per_s=rate_bytes_per_s)
    await proxy.start()
    await cluster.start_node(1)
    await cluster.start_node(0, peer_urls={1: f"wss://127.0.0.1:{proxy.port}/p2p"})
    await cluster.wait_all_connected()
    yield cluster, proxy
    await proxy.close()
