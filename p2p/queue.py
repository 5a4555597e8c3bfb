"""The bounded send queue of one peer, drained by the writer of its current link."""

from __future__ import annotations

import asyncio
import math
from collections import Counter, deque
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
    a caller is waiting on each of them. A one-way message that waited longer
    than ``age_max_s`` (its peer was away) is dropped as ``expired`` instead of
    sent: the peer has long moved on, or will catch up by state transfer, and
    decoding thousands of stale blocks would only slow that catch-up down.
    """

    def __init__(
        self, size_max: int, *, age_max_s: float = math.inf, dropped: Counter[str] | None = None
    ) -> None:
        self._size_max = size_max
        self._age_max_s = age_max_s
        self._dropped = dropped if dropped is not None else Counter()
        self._items: deque[Outbound] = deque()
        self._ready = asyncio.Event()

    def __len__(self) -> int:
        return len(self._items)

    def put(self, item: Outbound) -> Outbound | None:
        """Enqueue ``item``; returns the frame dropped to make room (possibly ``item`` itself), or None."""
        self._expire(item.enqueued_s)
        dropped: Outbound | None = None
        if len(self._items) >= self._size_max:
            dropped = self._evict_oldest_message()
            if dropped is None:
                return item
        self._items.append(item)
        self._ready.set()
        return dropped

    async def get(self) -> Outbound:
        while True:
            while not self._items:
                self._ready.clear()
                await self._ready.wait()
            self._expire(asyncio.get_running_loop().time())
            if self._items:
                return self._items.popleft()

    def _expire(self, now_s: float) -> None:
        # Oldest first; an essential frame at the head ends the sweep, the rest expire later.
        items = self._items
        while items and not items[0].essential and now_s - items[0].enqueued_s > self._age_max_s:
            items.popleft()
            self._dropped["expired"] += 1

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
