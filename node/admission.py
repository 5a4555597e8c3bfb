"""Admission control: refuse new submissions while this node's backlog is seconds deep.

Without it an overloaded network accepted everything: mempools grew to
100,000 transactions, blocks grew to their maximum, event loops stalled long
enough for view changes, and every transaction waited tens of seconds. A
client told "busy, retry shortly" can go elsewhere or slow down; a client told
"pending" and then kept waiting cannot. The backlog is measured in time: the
transactions this node has handed to consensus and not yet seen committed
(not those held behind a sender's nonce gap: no rate of commits clears them),
divided by the rate at which its transactions have been committed recently.
Below a floor everything is admitted, so light load and a freshly started node
(no rate yet) never see a refusal.
"""

from __future__ import annotations

from collections import deque

RATE_WINDOW_MS = 5000


class AdmissionControl:
    def __init__(self, *, backlog_max_ms: int, backlog_floor: int) -> None:
        self._backlog_max_ms = backlog_max_ms
        self._backlog_floor = backlog_floor
        self._commits: deque[tuple[int, int]] = deque()  # (time_ms, transactions of ours committed)
        self._committed_in_window = 0

    def on_committed(self, transaction_count: int, now_ms: int) -> None:
        """Count ``transaction_count`` of this node's admitted transactions as committed now."""
        if transaction_count:
            self._commits.append((now_ms, transaction_count))
            self._committed_in_window += transaction_count
        self._expire(now_ms)

    def get_rate_per_s(self, now_ms: int) -> float:
        """Transactions of ours committed per second over the last few seconds."""
        self._expire(now_ms)
        return self._committed_in_window * 1000 / RATE_WINDOW_MS

    def is_busy(self, pending_count: int, now_ms: int) -> bool:
        """True when ``pending_count`` waiting transactions would take longer than the allowed
        backlog to commit at the recent rate (and are more than the floor)."""
        if pending_count < self._backlog_floor:
            return False
        return pending_count >= self.get_rate_per_s(now_ms) * self._backlog_max_ms / 1000

    def _expire(self, now_ms: int) -> None:
        while self._commits and self._commits[0][0] <= now_ms - RATE_WINDOW_MS:
            _, count = self._commits.popleft()
            self._committed_in_window -= count
