"""The bounded send queue of one peer, drained by the writer of its current link."""

from __future__ import annotations

import asyncio
from collections import deque
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Outbound:
    data: bytes  # the encoded frame
    payload_bytes: int
    essential: bool  # requests and responses: someone waits for them, so they are never evicted
    enqueued_s: float  # event-loop time, for injected delays


class SendQueue:
    """FIFO of at most ``size_max`` frames; when full, the oldest one-way message makes room.

    Evicting the oldest keeps the freshest consensus traffic, which is what a
    lagging peer can still use; requests and responses are not evicted because
    a caller is waiting on each of them.
    """

    def __init__(self, size_max: int) -> None:
        self._size_max = size_max
        self._items: deque[Outbound] = deque()
        self._ready = asyncio.Event()

    def __len__(self) -> int:
        return len(self._items)

    def put(self, item: Outbound) -> Outbound | None:
        """Enqueue ``item``; returns the frame dropped to make room (possibly ``item`` itself), or None."""
        dropped: Outbound | None = None
        if len(self._items) >= self._size_max:
            dropped = self._evict_oldest_message()
            if dropped is None:
                return item
        self._items.append(item)
        self._ready.set()
        return dropped

    async def get(self) -> Outbound:
        while not self._items:
            self._ready.clear()
            await self._ready.wait()
        return self._items.popleft()

    def clear(self) -> int:
        count = len(self._items)
        self._items.clear()
        return count

    def _evict_oldest_message(self) -> Outbound | None:
        for position, queued in enumerate(self._items):
            if not queued.essential:
                del self._items[position]
                return queued
        return None
