"""One authenticated WebSocket to one peer: a writer task draining the peer's
send queue and a reader loop handing every binary frame to the network.

The same class serves both ends: the dialling side runs it in its dial task,
the accepting side in aiohttp's request handler. The link does not decode
payload frames; the network does, at its one door.

A watcher task pings the peer every ``heartbeat_ms`` and closes the link once
the peer has sent nothing at all, not even a pong, for ``silence_max_ms`` (bytes of a
frame still arriving count: pings queue behind a long frame in the stream). A
process that dies on a host (or in a container) that goes on answering for it
is seen at once, by a reset; a host that dies, a process or container frozen
(SIGSTOP, docker pause) or a network that drops the packets of an address that
is gone sends no reset, and only this silence tells the peers that the primary
is lost (``on_disconnected``). aiohttp's own
heartbeat judged a peer after one and a half intervals of idleness and with a
fixed pong window of half an interval, so a short interval made a stalled event
loop here look like a dead peer. The watcher knows when it was itself late (the
process was paused or starved of CPU) and judges nobody on that tick.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import struct
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
# A silent peer's link is closed without waiting for its CLOSE frame (it will not come): a closing
# handshake cut short this soon makes aiohttp drop the connection at once.
SILENT_CLOSE_S = 0.05
SEND_ERRORS = (ConnectionError, aiohttp.ClientError, RuntimeError)
# struct tcp_info (linux/tcp.h): eight one-byte fields, then 32-bit ones; tcpi_last_data_recv is the 12th.
TCP_INFO_BYTES = 104
TCP_LAST_DATA_RECV_OFFSET = 52
TCP_LAST_DATA_RECV = struct.Struct("=I")

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
        settings: P2PSettings,
    ) -> None:
        self.peer = peer
        self._ws = ws
        self._queue = queue
        self._stats = stats
        self._get_rule = get_rule
        self._on_frame = on_frame
        self._on_fault = on_fault
        self._heartbeat_s = settings.heartbeat_ms / 1000
        self._silence_max_s = settings.silence_max_ms / 1000
        self._heard_s = asyncio.get_running_loop().time()  # when the peer last sent anything
        self._writer: asyncio.Task[None] | None = None
        self._watcher: asyncio.Task[None] | None = None
        self._silent = False  # the watcher judged the peer gone: no closing handshake with it
        self.close_reason = ""
        self.finished = asyncio.Event()

    async def run(self) -> None:
        """Carry frames both ways until either side closes or the heartbeat finds the peer dead."""
        self._writer = asyncio.create_task(self._write(), name=f"p2p-writer-{self.peer}")
        self._watcher = asyncio.create_task(self._watch(), name=f"p2p-watcher-{self.peer}")
        try:
            await self._read()
        finally:
            await self._stop_tasks()
            if self._silent:
                await self._close_at_once()
            else:
                await self._ws.close()
            self.finished.set()

    async def close(self, reason: str, *, code: int = WSCloseCode.GOING_AWAY) -> None:
        if not self.close_reason:
            self.close_reason = reason
        await self._stop_tasks()
        await close_within(self._ws, CLOSE_TIMEOUT_S, code=code, message=reason.encode("utf-8")[:120])

    async def _watch(self) -> None:
        """Ping every heartbeat; close the link once the peer has been silent too long."""
        loop = asyncio.get_running_loop()
        due_s = loop.time() + self._heartbeat_s
        while True:
            await asyncio.sleep(max(0.0, due_s - loop.time()))
            now_s = loop.time()
            late = now_s - due_s > self._heartbeat_s  # paused or starved here: the silence may be ours
            due_s = now_s + self._heartbeat_s
            silent_s = now_s - self._heard_s
            if not late and silent_s > self._silence_max_s and not self._is_receiving():
                self.close_reason = self.close_reason or f"peer silent for {int(silent_s * 1000)} ms"
                self._silent = True
                await self._close_at_once()  # ends the reader; run() then drops the connection
                return
            try:
                await self._ws.ping()
            except SEND_ERRORS:
                return  # the link is going down; the reader says why

    def _is_receiving(self) -> bool:
        """Bytes reached this host on the link's connection within the silence limit: the peer
        is sending a frame that takes long to arrive (a NEW-VIEW or a state-transfer answer of
        megabytes over a slow link), and the pings queued behind it in the stream arrive after
        it. A dead host, a frozen process or a black hole sends nothing at all."""
        data_ago_s = get_data_received_ago_s(self._ws)
        return data_ago_s is not None and data_ago_s <= self._silence_max_s

    async def _close_at_once(self) -> None:
        with contextlib.suppress(TimeoutError, *SEND_ERRORS):
            async with asyncio.timeout(SILENT_CLOSE_S):
                await self._ws.close(code=WSCloseCode.ABNORMAL_CLOSURE)

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
            self._heard_s = asyncio.get_running_loop().time()
            if message.type is WSMsgType.BINARY:
                await self._hold_inbound(message.data)
                self._on_frame(self.peer, message.data)
            elif message.type is WSMsgType.PING:  # answered here: aiohttp's autoping hides them
                if not await self._answer_ping(message.data):
                    return
            elif message.type is WSMsgType.PONG:
                pass  # heard: that is all a pong says
            elif message.type is WSMsgType.TEXT:
                self._on_fault(self.peer, "text_frame")
            elif message.type is WSMsgType.ERROR:
                self._on_error(message.data)
                return
            else:  # CLOSE, CLOSING, CLOSED
                return

    async def _answer_ping(self, data: bytes) -> bool:
        try:
            await self._ws.pong(data)
        except SEND_ERRORS as error:
            self.close_reason = self.close_reason or f"pong failed: {error}"
            return False
        return True

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

    async def _stop_tasks(self) -> None:
        tasks = [task for task in (self._writer, self._watcher) if task is not None]
        self._writer = self._watcher = None
        current = asyncio.current_task()
        for task in tasks:
            if task is not current:
                task.cancel()
        await asyncio.gather(*(task for task in tasks if task is not current), return_exceptions=True)


async def close_within(
    ws: WebSocket, timeout_s: float, *, code: int = WSCloseCode.OK, message: bytes = b""
) -> None:
    """Close ``ws``, dropping the connection if the closing handshake is not done in ``timeout_s``.

    aiohttp bounds only its wait for the peer's CLOSE: sending ours waits without end on a
    transport paused for writing (a frozen peer that stopped reading), and whoever closes (a
    dial task before it redials, a handshake slot before it is released) would wait with it.
    Cut short, aiohttp drops the connection at once.
    """
    with contextlib.suppress(TimeoutError, *SEND_ERRORS):
        async with asyncio.timeout(timeout_s):
            await ws.close(code=code, message=message)


def get_data_received_ago_s(ws: WebSocket) -> float | None:
    """Seconds since the kernel last received data on ``ws``'s TCP connection (Linux TCP_INFO,
    ``tcpi_last_data_recv``), or None where the platform does not say."""
    sock = ws.get_extra_info("socket")
    option = getattr(socket, "TCP_INFO", None)
    if sock is None or option is None:
        return None
    try:
        info = sock.getsockopt(socket.IPPROTO_TCP, option, TCP_INFO_BYTES)
    except OSError:
        return None
    if len(info) < TCP_LAST_DATA_RECV.size + TCP_LAST_DATA_RECV_OFFSET:
        return None
    (ago_ms,) = TCP_LAST_DATA_RECV.unpack_from(info, TCP_LAST_DATA_RECV_OFFSET)
    return int(ago_ms) / 1000


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
