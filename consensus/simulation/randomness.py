"""The random source the simulator is handed; ``random.Random(seed)`` satisfies it."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Protocol, TypeVar

T = TypeVar("T")


class RandomSource(Protocol):
    def random(self) -> float: ...

    def randint(self, a: int, b: int) -> int: ...

    def getrandbits(self, k: int, /) -> int: ...

    def choice(self, seq: Sequence[T], /) -> T: ...

    def sample(self, population: Sequence[T], k: int) -> list[T]: ...


RandomFactory = Callable[[int], RandomSource]  # seed -> a fresh, independent source


def get_random_bytes(rng: RandomSource, size: int) -> bytes:
    return rng.getrandbits(8 * size).to_bytes(size, "big")
