"""One authenticated WebSocket to one peer: a writer task draining the peer's
send queue and a reader loop handing every binary frame to the network.

The same class serves both ends: the dialling side runs it in its dial task,
the accepting side in aiohttp's request handler. The link does not decode
payload frames; the network does, at its one door.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import TypeAlias

import aiohttp
import structlog
from aiohttp import WSCloseCode, WSMsgType, web

from p2p.faults import LinkRule, get_delay_ms
from p2p.queue import SendQueue
from p2p.settings import P2PSettings
from p2p.stats import PeerStats

WebSocket: TypeAlias = web.WebSocketResponse | aiohttp.ClientWebSocketResponse
CLOSE_TIMEOUT_S = 2.0
SEND_ERRORS = (ConnectionError, aiohttp.ClientError, RuntimeError)

log = structlog.get_logger("p2p")


class Link:
    def __init__(
        self,
        *,
        peer: int,
        ws: WebSocket,
        queue: SendQueue,
        stats: PeerStats,
        get_rule: Callable[[int], LinkRule],
        on_frame: Callable[[int, bytes], None],
        on_fault: Callable[[int, str], None],
    ) -> None:
        self.peer = peer
        self._ws = ws
        self._queue = queue
        self._stats = stats
        self._get_rule = get_rule
        self._on_frame = on_frame
        self._on_fault = on_fault
        self._writer: asyncio.Task[None] | None = None
        self.close_reason = ""
        self.finished = asyncio.Event()

    async def run(self) -> None:
        """Carry frames both ways until either side closes or the heartbeat finds the peer dead."""
        self._writer = asyncio.create_task(self._write(), name=f"p2p-writer-{self.peer}")
        try:
            await self._read()
        finally:
            await self._stop_writer()
            await self._ws.close()
            self.finished.set()

    async def close(self, reason: str, *, code: int = WSCloseCode.GOING_AWAY) -> None:
        if not self.close_reason:
            self.close_reason = reason
        await self._stop_writer()
        await self._ws.close(code=code, message=reason.encode("utf-8")[:120])

    async def _read(self) -> None:
        while True:
            try:
                message = await self._ws.receive()
            except SEND_ERRORS as error:
                # receive() answers a PING itself: on a transport already closing (the peer was
                # paused past the heartbeat) that PONG raises here. The link is lost, nothing more;
                # escaping, it killed the dial task, and the pair never linked again.
                self.close_reason = self.close_reason or f"receive failed: {error}"
                return
            if message.type is WSMsgType.BINARY:
                await self._hold_inbound(message.data)
                self._on_frame(self.peer, message.data)
            elif message.type is WSMsgType.TEXT:
                self._on_fault(self.peer, "text_frame")
            elif message.type is WSMsgType.ERROR:
                self._on_error(message.data)
                return
            else:  # CLOSE, CLOSING, CLOSED
                return

    def _on_error(self, error: object) -> None:
        if isinstance(error, aiohttp.WebSocketError) and error.code == WSCloseCode.MESSAGE_TOO_BIG:
            self.close_reason = self.close_reason or "oversize"
            self._on_fault(self.peer, "oversize")
        else:
            self.close_reason = self.close_reason or f"error: {error}"

    async def _hold_inbound(self, data: bytes) -> None:
        # An injected delay holds the reader itself, which keeps the link's order.
        delay_ms = get_delay_ms(self._get_rule(self.peer), outbound=False)
        if delay_ms:
            await asyncio.sleep(delay_ms / 1000)

    async def _write(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            item = await self._queue.get()
            delay_ms = get_delay_ms(self._get_rule(self.peer), outbound=True)
            if delay_ms:
                await asyncio.sleep(max(0.0, item.enqueued_s + delay_ms / 1000 - loop.time()))
            try:
                await self._ws.send_bytes(item.data)
            except SEND_ERRORS as error:
                self.close_reason = self.close_reason or f"send failed: {error}"
                self._stats.dropped["link_lost"] += 1
                await self._ws.close()
                return
            self._stats.messages_sent += 1
            self._stats.bytes_sent += item.payload_bytes
            log.debug("frame_sent", peer=self.peer, bytes=item.payload_bytes)

    async def _stop_writer(self) -> None:
        writer, self._writer = self._writer, None
        if writer is None or writer.done():
            return
        writer.cancel()
        await asyncio.gather(writer, return_exceptions=True)


class PeerState:
    """What the network keeps about one other validator across its links."""

    def __init__(self, index: int, settings: P2PSettings) -> None:
        self.index = index
        self.stats = PeerStats()
        self.queue = SendQueue(
            settings.send_queue_max, age_max_s=settings.send_age_max_ms / 1000, dropped=self.stats.dropped
        )
        self.link: Link | None = None
        self.banned_until_s = 0.0
        self.faults_since_ban = 0
        self.requests_inbound = 0
