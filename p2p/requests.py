"""Our requests awaiting a response, by request id."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from p2p.errors import P2PError, PeerUnavailable


@dataclass(slots=True)
class _Pending:
    peer: int
    future: asyncio.Future[bytes]


class PendingRequests:
    def __init__(self) -> None:
        self._pending: dict[int, _Pending] = {}
        self._last_id = 0

    def count_for(self, peer: int) -> int:
        return sum(1 for pending in self._pending.values() if pending.peer == peer)

    def open(self, peer: int) -> tuple[int, asyncio.Future[bytes]]:
        self._last_id += 1
        future: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()
        self._pending[self._last_id] = _Pending(peer, future)
        return self._last_id, future

    def forget(self, request_id: int) -> None:
        self._pending.pop(request_id, None)

    def is_known(self, request_id: int) -> bool:
        """True for any id we ever issued: a late answer to one of them is no fault."""
        return 0 < request_id <= self._last_id

    def resolve(self, peer: int, request_id: int, result: bytes | P2PError) -> bool:
        """Complete the request; False when it is not ours to complete (late, or another peer's)."""
        pending = self._pending.get(request_id)
        if pending is None or pending.peer != peer or pending.future.done():
            return False
        if isinstance(result, P2PError):
            pending.future.set_exception(result)
        else:
            pending.future.set_result(result)
        return True

    def fail_peer(self, peer: int, reason: str) -> None:
        for pending in self._pending.values():
            if pending.peer == peer and not pending.future.done():
                pending.future.set_exception(PeerUnavailable(f"link to peer {peer} lost: {reason}"))

    def fail_all(self, reason: str) -> None:
        for pending in self._pending.values():
            if not pending.future.done():
                pending.future.set_exception(PeerUnavailable(reason))
