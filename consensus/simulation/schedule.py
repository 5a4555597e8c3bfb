"""The fault schedule of one run, drawn from the seed before the run starts.

A run is a few phases; each phase has a length, a workload and one kind of
trouble: calm, a lossy link layer (drops, duplicates, corruption, long
delays), a partition (one replica isolated, or a split with no quorum on
either side), a crash with restart (storage kept), or a crash whose storage is
wiped (which may make the replica sign twice, so it spends the fault budget).
Twins are always kept apart while the schedule runs. Then everything heals.
"""

from __future__ import annotations

from dataclasses import dataclass

from consensus.simulation.network import CALM, LinkFaults
from consensus.simulation.randomness import RandomSource

MODES = ("calm", "lossy", "isolate", "split", "crash", "restart", "wipe")


@dataclass(frozen=True)
class Phase:
    mode: str
    duration_ms: int
    transactions: int
    link_faults: LinkFaults
    victims: tuple[int, ...]  # honest instances isolated, crashed or restarted
    restart_after_ms: int  # for "restart": when, within the phase


def draw_phases(
    rng: RandomSource, *, count: int, honest: list[int], wipe_allowed: bool, transactions: int
) -> list[Phase]:
    phases = []
    for _ in range(count):
        mode = rng.choice(MODES)
        if mode == "wipe":
            if not wipe_allowed:
                mode = "restart"
            wipe_allowed = False  # one wiped replica at most: it spends the fault budget
        victims: tuple[int, ...] = ()
        if mode in ("isolate", "crash", "restart", "wipe") and honest:
            victims = (rng.choice(honest),)
        elif mode == "split" and honest:
            victims = tuple(rng.sample(honest, len(honest) // 2))
        link_faults = CALM
        if mode == "lossy":
            link_faults = LinkFaults(
                drop_fraction=rng.choice([0.02, 0.1, 0.25]),
                duplicate_fraction=rng.choice([0.0, 0.05, 0.2]),
                corrupt_fraction=rng.choice([0.0, 0.01, 0.05]),
                delay_ms_min=1,
                delay_ms_max=rng.choice([10, 50, 300]),
            )
        duration_ms = rng.choice([200, 600, 1500, 3000])
        phases.append(
            Phase(
                mode,
                duration_ms,
                rng.randint(0, transactions),
                link_faults,
                victims,
                rng.randint(0, duration_ms),
            )
        )
    return phases
