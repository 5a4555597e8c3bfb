"""Tamper alerts: a hub served the observer something that does not verify.

Each alert names the hub (the observer checked its TLS certificate, so the
name is proven) and a stable reason:

- ``malformed_answer``: the answer is not a well-formed list of certified blocks;
- ``bad_certificate``: a block's commit certificate does not prove it final
  under the genesis validators (forged or altered block, or forged votes);
- ``transactions_mismatch``: the block's transactions are not the ones its header commits to;
- ``execution_mismatch``: re-executing the block gives another result than its header states;
- ``conflicting_block``: the block differs from the one already verified at its
  height, or does not extend the verified chain;
- ``out_of_order``: the answer skips heights.

An alert is an error-level log line, a count in
``hubledger_observer_invalid_answers_total{hub,reason}`` and a row on the
status page. Nothing of the answer is kept; the observer goes on with the
other hubs and asks this one again at the next poll. A hub that goes on lying
is alerted on at every poll: every alert is counted, but logged once a minute
per hub and reason (with how many were not logged since), so the log stays readable.
"""

from __future__ import annotations

from collections import Counter, deque
from dataclasses import dataclass
from typing import Any

import structlog

from node.clock import now_ms

RECENT_ALERTS_MAX = 20
LOG_INTERVAL_MS = 60_000  # one log line per hub and reason at most this often
REASONS = (
    "malformed_answer",
    "bad_certificate",
    "transactions_mismatch",
    "execution_mismatch",
    "conflicting_block",
    "out_of_order",
)

log = structlog.get_logger("hubledger.observer")


@dataclass(frozen=True)
class Alert:
    hub: str
    reason: str
    height: int  # the height of the block concerned; 0 when the answer as a whole was bad
    detail: str
    at_ms: int

    def to_json(self) -> dict[str, Any]:
        return {
            "hub": self.hub,
            "reason": self.reason,
            "height": self.height,
            "detail": self.detail,
            "at_ms": self.at_ms,
        }


class TamperAlerts:
    """Every alert raised since start: counted by hub and reason, the latest kept for the page."""

    def __init__(self) -> None:
        self.counts: Counter[tuple[str, str]] = Counter()
        self.recent: deque[Alert] = deque(maxlen=RECENT_ALERTS_MAX)
        self._logged: dict[tuple[str, str], tuple[int, int]] = {}  # -> (logged at, count then)

    def raise_alert(self, hub: str, reason: str, height: int, detail: str) -> None:
        if reason not in REASONS:
            raise ValueError(f"unknown alert reason {reason!r}")
        alert = Alert(hub, reason, height, detail, now_ms())
        key = (hub, reason)
        self.counts[key] += 1
        self.recent.appendleft(alert)
        logged_ms, count_then = self._logged.get(key, (-LOG_INTERVAL_MS, 0))
        if alert.at_ms - logged_ms < LOG_INTERVAL_MS:
            return
        self._logged[key] = (alert.at_ms, self.counts[key])
        log.error(
            "observer_tamper_alert",
            hub=hub,
            reason=reason,
            height=height,
            detail=detail,
            not_logged_since=self.counts[key] - count_then - 1,
            action="this hub served data that does not verify; the observer follows the other hubs. "
            "Tell the hub's operator and the other hubs (docs/operators.md, 'The regulator's observer')",
        )

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    def count_for(self, hub: str) -> int:
        return sum(count for (name, _), count in self.counts.items() if name == hub)
