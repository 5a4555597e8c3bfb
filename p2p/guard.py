"""Bounds on what a peer that has not yet proved who it is can cost us.

Anyone who can reach the peer endpoint may open a WebSocket to it. Until the
handshake (handshake.py) has proved the other side a validator of this chain,
each accepted connection may send at most ``handshake_bytes_max`` bytes in all
(a handshake needs a few hundred: hello, proof, accept, a ping or two); one
byte more and the connection is cut before its bytes reach the WebSocket
parser, so a frame announced as 60 MiB is never buffered. At most
``handshakes_pending_max`` connections may be in their handshake at once, and
at most ``handshakes_per_address_max`` from one address; the next ones are
answered 503 before the upgrade and dropped at once (``refuse_before_upgrade``).
Only after the handshake does ``message_bytes_max`` apply.

The byte budget sits between the transport and aiohttp's protocol
(``asyncio.BaseTransport.set_protocol``), and is taken out again, so that an
authenticated link pays nothing for it, as soon as the peer's proof verified,
before we send our accept: the peer sends nothing but its accept until it has
ours, so none of its messages can be counted against the budget.
"""

from __future__ import annotations

import asyncio
from collections import Counter

from aiohttp import web


class HandshakeSlots:
    """Counts connections in their handshake, in all and per remote address."""

    def __init__(self, *, pending_max: int, per_address_max: int) -> None:
        self._pending_max = pending_max
        self._per_address_max = per_address_max
        self._by_address: Counter[str] = Counter()

    @property
    def pending(self) -> int:
        return self._by_address.total()

    def get_refusal(self, address: str) -> str | None:
        """Why a new connection from ``address`` may not start a handshake now, if it may not."""
        if self.pending >= self._pending_max:
            return "too_many_handshakes"
        if self._by_address[address] >= self._per_address_max:
            return "too_many_handshakes_from_address"
        return None

    def take(self, address: str) -> None:
        self._by_address[address] += 1

    def release(self, address: str) -> None:
        self._by_address[address] -= 1
        if self._by_address[address] <= 0:
            del self._by_address[address]


class InboundBudget(asyncio.Protocol):
    """Forwards what ``transport`` receives to its protocol until ``bytes_max`` bytes have come;
    past that, aborts the connection and drops the rest unread."""

    def __init__(self, transport: asyncio.Transport, *, bytes_max: int) -> None:
        self._transport = transport
        inner = transport.get_protocol()
        if not isinstance(inner, asyncio.Protocol):
            raise TypeError("the inbound budget wraps a streaming protocol")
        self._inner: asyncio.Protocol = inner
        self._bytes_max = bytes_max
        self.bytes_received = 0
        self.exceeded = False
        transport.set_protocol(self)

    def lift(self) -> None:
        """Hand the transport back to its protocol: from now on nothing is counted."""
        if self._transport.get_protocol() is self:
            self._transport.set_protocol(self._inner)

    def data_received(self, data: bytes) -> None:
        if self.exceeded:
            return
        self.bytes_received += len(data)
        if self.bytes_received > self._bytes_max:
            self.exceeded = True
            self._transport.abort()
            return
        self._inner.data_received(data)

    def eof_received(self) -> bool | None:
        return self._inner.eof_received()

    def connection_lost(self, exc: Exception | None) -> None:
        self._inner.connection_lost(exc)

    def pause_writing(self) -> None:
        self._inner.pause_writing()

    def resume_writing(self) -> None:
        self._inner.resume_writing()


async def refuse_before_upgrade(request: web.Request, text: str, *, status: int = 503) -> web.StreamResponse:
    """Answer ``status`` with ``text`` and drop the connection. A closing TLS transport reads on until
    the other side's close_notify, so a stranger that sent a frame right behind its request
    (without waiting for the 101) would be read, and discarded, to the frame's end; and aiohttp
    would parse that frame as the next request and echo it in a 400."""
    response = web.Response(status=status, text=text)
    await response.prepare(request)
    await response.write_eof()
    if request.transport is not None:
        request.transport.abort()
    return response
