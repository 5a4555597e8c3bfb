"""Hubs as an observer's follower sees them, answering from an audit chain: honest ones that hold
some height, a pruning one, a silent one; and a follower over an empty store to follow them."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from typing import Any, cast

from contracts.genesis import compute_genesis_changes
from ledger import cbor
from node.application import LedgerApplication
from node.observer.alerts import TamperAlerts
from node.observer.follower import Follower
from node.peer_status import HubStatus
from p2p.errors import RequestTimeout
from p2p.observer_links import HubLink
from storage.chain import ChainStore
from storage.kv import MemoryStore
from tests.unit.node.audit_chain import AuditChain
from tests.unit.node.test_observer import encode_answer

DEADLINE_S = 10.0


class FakeHub:
    """Answers status with ``height`` and block requests from ``first_kept`` up to ``height``:
    the block asked first (the observer's latest) and ``per_answer`` more at most (256 in all, on a hub)."""

    def __init__(
        self, audit: AuditChain, hub: str, *, height: int, first_kept: int = 1, per_answer: int = 255
    ) -> None:
        self.hub, self.url, self.asked = hub, f"wss://{hub}/p2p/observer", 0
        self._audit, self.height, self._first_kept, self._per_answer = audit, height, first_kept, per_answer

    async def request(self, payload: bytes, *, timeout_s: float) -> bytes:
        request = cbor.decode(payload, bytes_max=1024)
        if request["kind"] == "get_status":
            status = HubStatus(self.hub, self.height, 0, self.hub, (), 0, 0, False, 0)
            return cbor.encode(status.to_cbor_map())
        self.asked += 1
        first = request["from"]
        if first < self._first_kept:
            return encode_answer([])  # what a hub answers below the first body it kept
        last = min(self.height, first + self._per_answer)
        return encode_answer(self._audit.blocks[first - 1 : last])

    async def close(self) -> None:
        return None


class SilentHub:
    """Takes the connection and never answers: each request ends at its timeout."""

    def __init__(self, hub: str) -> None:
        self.hub, self.url = hub, f"wss://{hub}/p2p/observer"

    async def request(self, payload: bytes, *, timeout_s: float) -> bytes:
        await asyncio.sleep(timeout_s)
        raise RequestTimeout(f"hub {self.hub} did not answer within {timeout_s:.1f} s")

    async def close(self) -> None:
        return None


def make_follower(
    audit: AuditChain, links: Sequence[Any], *, request_timeout_ms: int = 1000
) -> tuple[Follower, ChainStore]:
    chain = ChainStore(MemoryStore())
    chain.initialize(audit.genesis.hash, compute_genesis_changes(audit.genesis))
    follower = Follower(
        genesis=audit.genesis,
        chain=chain,
        application=LedgerApplication(chain=chain, chain_id=audit.genesis.chain_id),
        links=cast(list[HubLink], list(links)),
        alerts=TamperAlerts(),
        on_commit=lambda *_: None,
        poll_interval_ms=10,
        request_timeout_ms=request_timeout_ms,
    )
    return follower, chain


async def wait_until(condition: Callable[[], bool], what: str, deadline_s: float = DEADLINE_S) -> None:
    try:
        async with asyncio.timeout(deadline_s):
            while not condition():
                await asyncio.sleep(0.01)
    except TimeoutError:
        raise AssertionError(f"not within {deadline_s} s: {what}") from None


class Following:
    """``follow_forever`` running in the background for the length of a ``with`` block."""

    def __init__(self, follower: Follower) -> None:
        self._follower = follower
        self._task: asyncio.Future[None] | None = None

    async def __aenter__(self) -> Follower:
        self._task = asyncio.ensure_future(self._follower.follow_forever())
        return self._follower

    async def __aexit__(self, *exc: object) -> None:
        assert self._task is not None
        self._task.cancel()
        await asyncio.gather(self._task, return_exceptions=True)
        await self._follower.close()
