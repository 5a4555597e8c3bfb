"""What happened to each offered transfer, by its position in the workload.

Times are ``time.monotonic()`` seconds of the bench process. A transfer's
submission time is when the open-loop schedule meant to send it (so a client
that falls behind its schedule shows as latency, not as a lower rate offered),
its commit time when the bench first saw it in a committed block.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

NOT_YET = -1.0
BUSY_AGAIN = "BUSY, offered again"  # an outcome counted per refusal, not per transfer
BUSY_AT_END = "BUSY when the run ended"  # still refused when the drain ran out: never accepted


@dataclass
class Block:
    height: int
    observed_s: float
    timestamp_ms: int
    transaction_count: int
    response_bytes: int


@dataclass
class Timeline:
    size: int
    submitted_s: list[float] = field(default_factory=list)
    committed_s: list[float] = field(default_factory=list)
    positions: dict[str, int] = field(default_factory=dict)  # transaction id (hex) -> position
    outcomes: Counter[str] = field(default_factory=Counter)  # pending, committed, or an error code
    request_round_trips_s: list[float] = field(default_factory=list)
    blocks: list[Block] = field(default_factory=list)
    offered: int = 0  # positions [0, offered) have been sent
    committed: int = 0
    foreign_committed: int = 0  # transactions in blocks that this run did not offer

    @classmethod
    def create(cls, ids: list[str]) -> Timeline:
        return cls(
            size=len(ids),
            submitted_s=[NOT_YET] * len(ids),
            committed_s=[NOT_YET] * len(ids),
            positions={transaction_id: position for position, transaction_id in enumerate(ids)},
        )

    def on_block(self, block: Block, transaction_ids: list[str]) -> None:
        self.blocks.append(block)
        for transaction_id in transaction_ids:
            position = self.positions.get(transaction_id)
            if position is None:
                self.foreign_committed += 1
            elif self.committed_s[position] == NOT_YET:
                self.committed_s[position] = block.observed_s
                self.committed += 1

    @property
    def accepted(self) -> int:
        return self.outcomes["pending"] + self.outcomes["committed"]

    @property
    def refused(self) -> int:
        """Transfers refused for good (a BUSY answer that was offered again is not one)."""
        return sum(
            count
            for outcome, count in self.outcomes.items()
            if outcome not in ("pending", "committed", BUSY_AGAIN)
        )
