"""What one observer may cost a hub: a budget of answered bytes, refilled with time.

Every observer name (all its links together) has a bucket of ``burst_bytes``
refilled at ``bytes_per_s``. A request is answered while the bucket is not
empty, and its answer is then charged: its bytes, and at least
``REQUEST_COST_BYTES`` so that many small questions cost as much as one
large answer. An observer that has spent its budget is refused with the
stable code OBSERVER_RATE_LIMITED until the bucket refills; an honest
observer (a status and a block request per hub every half second, an 8 MB
answer now and then while catching up) never comes near it.

Tokens are integers, time is the event loop's monotonic clock in ms.
"""

from __future__ import annotations

from collections.abc import Callable

RATE_LIMITED = "OBSERVER_RATE_LIMITED"
BURST_BYTES = 32 * 1024 * 1024  # four full block answers back to back
BYTES_PER_S = 4 * 1024 * 1024  # while catching up: one full answer every two seconds from each hub
REQUEST_COST_BYTES = 16 * 1024  # what a question costs at least: 256 per second once the burst is spent


class AnswerBudget:
    """Per observer name: may it be answered now, and what its answers cost."""

    def __init__(
        self,
        clock_ms: Callable[[], int],
        *,
        burst_bytes: int = BURST_BYTES,
        bytes_per_s: int = BYTES_PER_S,
    ) -> None:
        self._clock_ms = clock_ms
        self._burst = burst_bytes
        self._per_s = bytes_per_s
        self._buckets: dict[str, tuple[int, int]] = {}  # observer -> (tokens, at_ms)

    def may_answer(self, observer: str) -> bool:
        return self._refill(observer) > 0

    def charge(self, observer: str, answered_bytes: int) -> None:
        """Take an answer's cost; the bucket may go below zero, and refills from there."""
        tokens = self._refill(observer) - max(answered_bytes, REQUEST_COST_BYTES)
        self._buckets[observer] = (tokens, self._clock_ms())

    def forget(self, observer: str) -> None:
        """Drop a bucket that is full again (its last link closed): a name costs memory only when linked."""
        if self._refill(observer) >= self._burst:
            self._buckets.pop(observer, None)

    def _refill(self, observer: str) -> int:
        now = self._clock_ms()
        tokens, at_ms = self._buckets.get(observer, (self._burst, now))
        tokens = min(self._burst, tokens + (now - at_ms) * self._per_s // 1000)
        self._buckets[observer] = (tokens, now)
        return tokens
