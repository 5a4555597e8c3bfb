"""Counters of one peer, as shown by PeerNetwork.get_stats()."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field


@dataclass
class PeerStats:
    messages_sent: int = 0
    bytes_sent: int = 0
    messages_received: int = 0
    bytes_received: int = 0
    connects: int = 0
    dropped: Counter[str] = field(default_factory=Counter)  # by reason
    faults: Counter[str] = field(default_factory=Counter)  # by reason, since start

    def to_dict(self, *, connected: bool, queued: int, banned_ms: int) -> dict[str, object]:
        return {
            "connected": connected,
            "messages_sent": self.messages_sent,
            "bytes_sent": self.bytes_sent,
            "messages_received": self.messages_received,
            "bytes_received": self.bytes_received,
            "connects": self.connects,
            "queued": queued,
            "banned_ms": banned_ms,
            "dropped": dict(sorted(self.dropped.items())),
            "faults": dict(sorted(self.faults.items())),
        }
