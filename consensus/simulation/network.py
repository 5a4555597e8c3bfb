"""The seeded faulty network between simulated replicas.

Every payload crosses as bytes and is decoded at the receiver's door, as on a
real link. Each copy draws, from the run's random source and in a fixed order,
whether it is dropped, duplicated or corrupted (one byte flipped) and how long
it takes; different delays reorder messages. A partition puts instances in
groups; nothing crosses between groups until it heals.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from consensus.simulation.randomness import RandomSource

DELAY_MS_MAX = 60_000


@dataclass(frozen=True)
class LinkFaults:
    drop_fraction: float = 0.0
    duplicate_fraction: float = 0.0
    corrupt_fraction: float = 0.0
    delay_ms_min: int = 1
    delay_ms_max: int = 10

    def __post_init__(self) -> None:
        for name in ("drop_fraction", "duplicate_fraction", "corrupt_fraction"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"{name} must be between 0 and 1")
        if not 0 <= self.delay_ms_min <= self.delay_ms_max <= DELAY_MS_MAX:
            raise ValueError(f"delays must satisfy 0 <= min <= max <= {DELAY_MS_MAX}")


CALM = LinkFaults()


@dataclass(frozen=True)
class Copy:
    delay_ms: int
    data: bytes


class SimNetwork:
    def __init__(self, rng: RandomSource) -> None:
        self._rng = rng
        self.faults = CALM
        self._group_of: dict[int, int] = {}  # instance -> group; absent: reaches everyone
        self.sent = 0
        self.dropped = 0

    def partition(self, groups: Iterable[Iterable[int]]) -> None:
        self._group_of = {member: number for number, group in enumerate(groups) for member in group}

    def heal(self) -> None:
        self._group_of = {}
        self.faults = CALM

    @property
    def is_partitioned(self) -> bool:
        return bool(self._group_of)

    def can_reach(self, sender: int, receiver: int) -> bool:
        if not self._group_of:
            return True
        return self._group_of.get(sender, -1) == self._group_of.get(receiver, -1)

    def carry(self, sender: int, receiver: int, data: bytes) -> list[Copy]:
        """The copies of one payload that arrive, each with its delay."""
        self.sent += 1
        faults = self.faults
        if not self.can_reach(sender, receiver) or self._rng.random() < faults.drop_fraction:
            self.dropped += 1
            return []
        copies = 2 if self._rng.random() < faults.duplicate_fraction else 1
        arriving = []
        for _ in range(copies):
            delay_ms = self._rng.randint(faults.delay_ms_min, faults.delay_ms_max)
            payload = data
            if data and self._rng.random() < faults.corrupt_fraction:
                payload = flip_byte(data, self._rng)
            arriving.append(Copy(delay_ms, payload))
        return arriving


def flip_byte(data: bytes, rng: RandomSource) -> bytes:
    position = rng.randint(0, len(data) - 1)
    mask = rng.randint(1, 255)
    return data[:position] + bytes([data[position] ^ mask]) + data[position + 1 :]
