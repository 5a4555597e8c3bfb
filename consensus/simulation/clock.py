"""The virtual clock and its event queue.

Events fire in (time, insertion order): two events at one millisecond run in
the order they were scheduled, so the queue itself adds no chance. A timer is
an event with a token; setting or cancelling it makes older tokens stale, and
a stale timer event is skipped when it comes up.
"""

from __future__ import annotations

import heapq
from collections.abc import Hashable
from dataclasses import dataclass, field
from typing import Any


@dataclass(order=True)
class Event:
    at_ms: int
    sequence: int
    kind: str = field(compare=False)
    target: int = field(compare=False)  # the instance the event is for
    payload: Any = field(compare=False)


class VirtualClock:
    def __init__(self, start_ms: int) -> None:
        self.now_ms = start_ms
        self._queue: list[Event] = []
        self._sequence = 0
        self._timers: dict[Hashable, int] = {}  # timer key -> live token

    def schedule(self, delay_ms: int, kind: str, target: int, payload: Any = None) -> None:
        self._sequence += 1
        heapq.heappush(
            self._queue, Event(self.now_ms + max(0, delay_ms), self._sequence, kind, target, payload)
        )

    def set_timer(self, key: Hashable, delay_ms: int, target: int, payload: Any) -> None:
        self._sequence += 1
        self._timers[key] = self._sequence
        event = Event(self.now_ms + max(0, delay_ms), self._sequence, "timer", target, (key, payload))
        heapq.heappush(self._queue, event)

    def cancel_timer(self, key: Hashable) -> None:
        self._timers.pop(key, None)

    def cancel_timers_of(self, target: int) -> None:
        """Forget every timer of one instance (it crashed)."""
        for key in [key for key in self._timers if isinstance(key, tuple) and key[0] == target]:
            del self._timers[key]

    def pop(self, until_ms: int) -> Event | None:
        """The next live event due by ``until_ms``, with the clock moved to its time."""
        while self._queue and self._queue[0].at_ms <= until_ms:
            event = heapq.heappop(self._queue)
            if event.kind == "timer":
                key = event.payload[0]
                if self._timers.get(key) != event.sequence:
                    continue
                del self._timers[key]
            self.now_ms = max(self.now_ms, event.at_ms)
            return event
        return None
