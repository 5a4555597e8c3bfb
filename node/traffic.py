"""Counts of the consensus messages a node sends and receives, kept by the node, read by its metrics."""

from __future__ import annotations

from collections import Counter


class MessageTraffic:
    """Consensus messages and their payload bytes, by direction and message type."""

    def __init__(self) -> None:
        self.messages: Counter[tuple[str, str]] = Counter()
        self.payload_bytes: Counter[tuple[str, str]] = Counter()

    def on_sent(self, kind: str, payload_bytes: int, *, copies: int = 1) -> None:
        self.messages["sent", kind] += copies
        self.payload_bytes["sent", kind] += payload_bytes * copies

    def on_received(self, kind: str, payload_bytes: int) -> None:
        self.messages["received", kind] += 1
        self.payload_bytes["received", kind] += payload_bytes
