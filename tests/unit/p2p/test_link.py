"""A link ends, and says why, when its socket fails under it; it never raises into the dial task."""

from __future__ import annotations

import asyncio
from typing import Any

from aiohttp.client_exceptions import ClientConnectionResetError

from p2p.faults import NO_RULE
from p2p.link import Link
from p2p.queue import SendQueue
from p2p.settings import P2PSettings
from p2p.stats import PeerStats


class ResetOnReceive:
    """A WebSocket whose receive() fails as aiohttp's does when it answers a PING with a PONG on
    a transport that is already closing (a peer paused past the heartbeat)."""

    def __init__(self) -> None:
        self.closed = False

    async def receive(self) -> Any:
        raise ClientConnectionResetError("Cannot write to closing transport")

    async def send_bytes(self, data: bytes) -> None:
        await asyncio.sleep(3600)

    async def close(self, **_: Any) -> bool:
        self.closed = True
        return True


async def test_a_reset_while_answering_a_ping_ends_the_link_without_raising() -> None:
    stats = PeerStats()
    ws = ResetOnReceive()
    link = Link(
        peer=1,
        ws=ws,  # type: ignore[arg-type]
        queue=SendQueue(10, age_max_s=5.0, dropped=stats.dropped),
        stats=stats,
        get_rule=lambda peer: NO_RULE,
        on_frame=lambda peer, data: None,
        on_fault=lambda peer, reason: None,
        settings=P2PSettings(),
    )
    await asyncio.wait_for(link.run(), timeout=5)
    assert link.close_reason == "receive failed: Cannot write to closing transport"
    assert ws.closed and link.finished.is_set()
