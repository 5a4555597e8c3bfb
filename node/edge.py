"""The node's listeners at the edge: how long a stranger may take, and how many may hold a connection.

aiohttp's TCPSite leaves a TLS handshake 60 s (the event loop's default) and
reads a request's headers for as long as its keep-alive timer allows, and it
accepts as many connections as arrive. A slowloris client, sending its
handshake or its headers a byte at a time, or a client opening hundreds of
connections at once, could hold the node's sockets and memory. So each
listener is a ``GuardedSite``:

- the TLS handshake must finish within ``tls_handshake_timeout_s``, or the
  connection is counted as ``slow_handshake`` and closed;
- once TLS is up, the first request's headers (up to the blank line that
  ends them) must have come within ``header_timeout_s``, or the connection
  is closed and counted as ``slow_request``; an idle keep-alive connection
  is closed after as long (the runner's ``keepalive_timeout``, ``make_runner``);
- at most ``per_address_max`` connections from one client address and
  ``total_max`` in all are served at once; past that, a connection is closed
  as soon as its handshake completes and counted as ``too_many_connections``.

The limits are configuration ([api] for the client API, fixed for the peer
port whose clients are the other hubs): docs/operators.md, "At the edge".
"""

from __future__ import annotations

import asyncio
import weakref
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from aiohttp import web

REFUSED_TOO_MANY = "too_many_connections"
REFUSED_SLOW = "slow_request"
REFUSED_SLOW_HANDSHAKE = "slow_handshake"
HANDSHAKE_GRACE_S = 1.0  # the loop's own deadline, after ours: ours counts, the loop's closes


@dataclass(frozen=True)
class EdgeLimits:
    """How long and how many, for one listener."""

    tls_handshake_timeout_s: float
    header_timeout_s: float
    total_max: int
    per_address_max: int


# The peer port's clients are the other hubs (one link each) and, on one test
# host, everything on 127.0.0.1: generous, but bounded.
PEER_LIMITS = EdgeLimits(
    tls_handshake_timeout_s=10.0, header_timeout_s=10.0, total_max=512, per_address_max=64
)


class ConnectionCount:
    """Connections served now, in all and per client address; says whether one more may be."""

    def __init__(self, limits: EdgeLimits, on_refused: Callable[[str], None]) -> None:
        self._limits = limits
        self._on_refused = on_refused
        self.by_address: Counter[str] = Counter()
        self.total = 0

    def admit(self, address: str) -> bool:
        if self.total >= self._limits.total_max or self.by_address[address] >= self._limits.per_address_max:
            self.refuse(REFUSED_TOO_MANY)
            return False
        self.total += 1
        self.by_address[address] += 1
        return True

    def refuse(self, reason: str) -> None:
        self._on_refused(reason)

    def release(self, address: str) -> None:
        self.total -= 1
        self.by_address[address] -= 1
        if self.by_address[address] <= 0:
            del self.by_address[address]


class CountedProtocol(asyncio.Protocol):
    """Stands before aiohttp's protocol for one connection: admits it by the count, or closes it,
    and closes it if the first request's headers have not all come within the deadline."""

    def __init__(
        self,
        inner: asyncio.Protocol,
        count: ConnectionCount,
        header_timeout_s: float,
        handshake_timeout_s: float | None = None,
    ) -> None:
        self._inner = inner
        self._count = count
        self._header_timeout_s = header_timeout_s
        self._address: str | None = None
        self._deadline: asyncio.TimerHandle | None = None
        self._tail = b""  # the last bytes seen, to find the blank line that ends the headers
        self._handshake_late = False
        # Made when the TCP connection is accepted, before TLS: a handshake still going at its
        # deadline is counted here (a weak reference: one that failed earlier is gone, and was
        # counted by its TLS reason) and closed, by the loop a moment later or at connection_made.
        self._handshake_deadline = (
            None
            if handshake_timeout_s is None
            else asyncio.get_running_loop().call_later(
                handshake_timeout_s, _on_handshake_late, weakref.ref(self)
            )
        )

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        if self._handshake_deadline is not None:
            self._handshake_deadline.cancel()
        if self._handshake_late:
            _abort(transport)
            return
        peer = transport.get_extra_info("peername")
        address = str(peer[0]) if isinstance(peer, tuple) and peer else "unknown"
        if not self._count.admit(address):
            _abort(transport)  # connection_lost follows; the inner protocol never saw it
            return
        self._address = address
        loop = asyncio.get_running_loop()
        self._deadline = loop.call_later(self._header_timeout_s, self._on_late, transport)
        self._inner.connection_made(transport)

    def _on_late(self, transport: asyncio.BaseTransport) -> None:
        self._deadline = None
        self._count.refuse(REFUSED_SLOW)
        _abort(transport)

    def connection_lost(self, exc: Exception | None) -> None:
        if self._address is None:
            return
        self._stop_deadline()
        self._count.release(self._address)
        self._address = None
        self._inner.connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self._deadline is not None:
            seen = self._tail + data
            if b"\r\n\r\n" in seen:
                self._stop_deadline()
            self._tail = seen[-3:]
        self._inner.data_received(data)

    def _stop_deadline(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def eof_received(self) -> bool | None:
        return self._inner.eof_received()

    def pause_writing(self) -> None:
        self._inner.pause_writing()

    def resume_writing(self) -> None:
        self._inner.resume_writing()


def _on_handshake_late(reference: weakref.ReferenceType[CountedProtocol]) -> None:
    protocol = reference()
    if protocol is not None and protocol._address is None:
        protocol._handshake_late = True
        protocol._count.refuse(REFUSED_SLOW_HANDSHAKE)


def _abort(transport: asyncio.BaseTransport) -> None:
    if isinstance(transport, asyncio.Transport):
        transport.abort()
    else:
        transport.close()


def make_runner(app: web.Application, limits: EdgeLimits) -> web.AppRunner:
    """An AppRunner whose connections must send their first request within ``header_timeout_s``."""
    return web.AppRunner(app, access_log=None, keepalive_timeout=limits.header_timeout_s)


class GuardedSite(web.TCPSite):
    """A TCPSite with the handshake deadline and the connection count of the module's docstring."""

    def __init__(
        self,
        runner: web.AppRunner,
        host: str,
        port: int,
        *,
        limits: EdgeLimits,
        on_refused: Callable[[str], None],
        ssl_context: Any = None,
    ) -> None:
        super().__init__(runner, host, port, ssl_context=ssl_context, backlog=1024)
        self._limits = limits
        self.count = ConnectionCount(limits, on_refused)

    async def start(self) -> None:
        await web.BaseSite.start(self)
        server = self._runner.server
        if server is None:
            raise RuntimeError("the runner was not set up before its site started")

        def make_protocol() -> asyncio.Protocol:
            handshake_timeout_s = self._limits.tls_handshake_timeout_s if self._ssl_context else None
            return CountedProtocol(server(), self.count, self._limits.header_timeout_s, handshake_timeout_s)

        self._server = await asyncio.get_running_loop().create_server(
            make_protocol,
            self._host,
            self._port,
            ssl=self._ssl_context,
            ssl_handshake_timeout=(
                self._limits.tls_handshake_timeout_s + HANDSHAKE_GRACE_S if self._ssl_context else None
            ),
            backlog=self._backlog,
        )
