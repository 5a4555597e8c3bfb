"""What a transaction may know about the block it runs in."""

from __future__ import annotations

from dataclasses import dataclass

from ledger.types import Height, TimestampMs


@dataclass(frozen=True)
class BlockContext:
    chain_id: str
    height: Height
    timestamp_ms: TimestampMs
