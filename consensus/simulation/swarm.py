"""Swarm testing: each seed draws its own mix of faults and their intensities.

A fixed menu of fault phases tries the same few shapes over and over; swarm
testing (Groce et al., ISSTA 2012) instead switches whole kinds of fault on or
off per seed, so that some seeds pile many of one kind together and others
leave a kind out that would mask another. Each seed draws, each with its own
chance, a ``FaultPlan`` from these kinds:

- messages of one kind (a vote, a checkpoint, a VIEW-CHANGE, a state-transfer
  answer...) lost only to some replicas, for a span of time;
- the same, view by view (Twins' rounds): the messages of view v of one kind
  reaching only one replica, or one replica cut off for view v;
- partitions for a span of time: one replica isolated, or a split;
- the only replica holding the highest commit cut off, right after it next
  sends a message of a kind drawn for the seed;
- crashes of any replica at any moment, restarted after a delay drawn too;
- the new primary crashing in the middle of its view change (right after its
  VIEW-CHANGE or its NEW-VIEW), drawn for most views of most seeds: the moment
  a replica is most likely to forget what its view proved;
- lossy and slow links: drops, duplicates, corruption, long delays;
- clock offset and drift per replica;

and zero to f Byzantine behaviours from the catalogue. Every draw comes from
the random source the caller made from the seed, so a seed replays exactly.
"""

from __future__ import annotations

from consensus.simulation.behaviours import FAULTY_NAMES
from consensus.simulation.faults import (
    FETCH,
    KINDS,
    ClockSkew,
    Crash,
    FaultPlan,
    LinkSpan,
    Loss,
    SoleHolderCut,
    isolate,
)
from consensus.simulation.network import LinkFaults
from consensus.simulation.randomness import RandomSource
from consensus.simulation.records import SimulationConfig
from ledger.certificate import compute_faults_max

FEATURES = (
    "kind-loss",
    "view-rules",
    "partitions",
    "sole-holder-cut",
    "crashes",
    "primary-churn",
    "links",
    "clocks",
    "byzantine",
)
FEATURE_CHANCE = {"primary-churn": 0.75}  # the others: one seed in two
VIEWS_PLANNED = 6  # view-by-view rules and primary crashes are drawn for the first views
LIVENESS_MS = 30_000
# A clock this far off makes its replica refuse honest proposals (and theirs refuse its own):
# beyond half the replicas' timestamp bound it counts as a fault, with the Byzantine ones, and a
# seed draws at most f faults in all, or liveness could not be asked of it.
CLOCK_FAULT_MS = 15_000


def draw_swarm_config(
    seed: int, rng: RandomSource, *, nodes: int = 4, view_floor_enforced: bool = True
) -> SimulationConfig:
    features = [name for name in FEATURES if rng.random() < FEATURE_CHANCE.get(name, 0.5)]
    end_ms = rng.choice([2_000, 4_000, 8_000])
    draw = _Draw(rng, nodes, end_ms)
    for name in features:
        getattr(draw, "draw_" + name.replace("-", "_"))()
    draw.keep_clock_faults_within(compute_faults_max(nodes) - len(draw.byzantine))
    plan = FaultPlan(
        faults_end_ms=end_ms,
        losses=tuple(draw.losses),
        crashes=tuple(draw.crashes),
        links=tuple(draw.links),
        clocks=tuple(draw.clocks),
        sole_holder_cut=draw.sole_holder_cut,
        transactions=rng.choice([6, 12, 24]),
        description=tuple(draw.notes) or ("calm",),
    )
    replay = f"hubledger simulate --swarm --seed {seed} --nodes {nodes}"
    if not view_floor_enforced:
        replay += " --no-view-floor"
    return SimulationConfig(
        seed=seed,
        nodes=nodes,
        byzantine=tuple(draw.byzantine),
        plan=plan,
        replay=replay,
        liveness_ms=LIVENESS_MS,
        view_floor_enforced=view_floor_enforced,
    )


class _Draw:
    def __init__(self, rng: RandomSource, nodes: int, end_ms: int) -> None:
        self.rng = rng
        self.nodes = nodes
        self.end_ms = end_ms
        self.losses: list[Loss] = []
        self.crashes: list[Crash] = []
        self.links: list[LinkSpan] = []
        self.clocks: list[ClockSkew] = []
        self.sole_holder_cut: SoleHolderCut | None = None
        self.byzantine: list[str] = []
        self.notes: list[str] = []
        self._clock_notes_at: int | None = None  # where the clocks are described, once final
        # Swarm testing concentrates too: most of a seed's message rules aim at one replica and
        # one or two kinds, so that faults meet where one alone would be harmless.
        self.focus_replica = rng.randint(0, nodes - 1)
        self.focus_kinds = rng.sample(KINDS, rng.randint(1, 2))

    def _replica(self) -> int:
        return self.focus_replica if self.rng.random() < 0.75 else self.rng.randint(0, self.nodes - 1)

    def _kind(self) -> str:
        return self.rng.choice(self.focus_kinds) if self.rng.random() < 0.75 else self.rng.choice(KINDS)

    def _span(self) -> tuple[int, int]:
        start_ms = self.rng.randint(0, self.end_ms - 1)
        length_ms = self.rng.choice([200, 1_000, 4_000, self.end_ms])
        return start_ms, min(start_ms + length_ms, self.end_ms)

    def _receivers(self) -> frozenset[int]:
        """Some replicas, but not all: all but one half the time, else any proper subset."""
        if self.rng.random() < 0.5:
            return frozenset(range(self.nodes)) - {self._replica()}
        size = self.rng.randint(1, self.nodes - 1)
        return frozenset(self.rng.sample(range(self.nodes), size))

    def draw_kind_loss(self) -> None:
        for _ in range(self.rng.randint(1, 3)):
            kind = self._kind()
            receivers = self._receivers()
            start_ms, end_ms = self._span()
            self.losses.append(Loss(receivers, frozenset({kind}), start_ms=start_ms, end_ms=end_ms))
            self.notes.append(f"{kind} lost to {sorted(receivers)} {start_ms}-{end_ms} ms")

    def draw_view_rules(self) -> None:
        everyone = frozenset(range(self.nodes))
        chance = self.rng.choice([0.3, 0.6, 0.9])
        for view in range(VIEWS_PLANNED):
            if self.rng.random() >= chance:
                continue
            replica = self._replica()
            if self.rng.random() < 0.4:
                self.losses += isolate(replica, self.nodes, view=view)
                self.notes.append(f"view {view}: {replica} cut off")
                continue
            kind = self._kind()
            self.losses.append(Loss(everyone - {replica}, frozenset({kind}), view=view))
            self.notes.append(f"view {view}: {kind} only to {replica}")

    def draw_partitions(self) -> None:
        for _ in range(self.rng.randint(1, 2)):
            start_ms, end_ms = self._span()
            if self.rng.random() < 0.5:
                replica = self._replica()
                self.losses += isolate(replica, self.nodes, start_ms=start_ms, end_ms=end_ms)
                self.notes.append(f"{replica} isolated {start_ms}-{end_ms} ms")
                continue
            side = frozenset(self.rng.sample(range(self.nodes), self.nodes // 2))
            rest = frozenset(range(self.nodes)) - side
            self.losses.append(Loss(rest, senders=side, start_ms=start_ms, end_ms=end_ms))
            self.losses.append(Loss(side, senders=rest, start_ms=start_ms, end_ms=end_ms))
            self.notes.append(f"split {sorted(side)} | {sorted(rest)} {start_ms}-{end_ms} ms")

    def draw_sole_holder_cut(self) -> None:
        kind = self._kind()
        if kind == FETCH:
            kind = self.rng.choice(KINDS[:-1])  # a replica does not send state-transfer answers itself
        duration_ms = self.rng.choice([200, 1_000, 4_000, self.end_ms])
        self.sole_holder_cut = SoleHolderCut(kind, duration_ms)
        self.notes.append(
            f"the only holder of the highest commit cut off after its next {kind} for {duration_ms} ms"
        )

    def _restart_after_ms(self) -> int:
        return self.rng.choice([1, 30, 300, 3_000])

    def draw_crashes(self) -> None:
        for _ in range(self.rng.randint(1, 3)):
            replica = self.rng.randint(0, self.nodes - 1)
            at_ms = self.rng.randint(0, self.end_ms - 1)
            restart_ms = self._restart_after_ms()
            self.crashes.append(Crash(replica, restart_ms, at_ms=at_ms))
            self.notes.append(f"{replica} crashes at {at_ms} ms for {restart_ms} ms")

    def draw_primary_churn(self) -> None:
        chance = self.rng.choice([0.3, 0.6, 1.0])
        for view in range(1, VIEWS_PLANNED):
            if self.rng.random() >= chance:
                continue
            after = self.rng.choice(["view_change", "new_view", "new_view"])
            restart_ms = self._restart_after_ms()
            self.crashes.append(Crash(view % self.nodes, restart_ms, after_kind=after, view=view))
            self.notes.append(f"view {view}: its primary crashes after its {after} for {restart_ms} ms")

    def draw_links(self) -> None:
        start_ms, end_ms = self._span()
        faults = LinkFaults(
            drop_fraction=self.rng.choice([0.0, 0.02, 0.1, 0.25]),
            duplicate_fraction=self.rng.choice([0.0, 0.05, 0.2]),
            corrupt_fraction=self.rng.choice([0.0, 0.01, 0.05]),
            delay_ms_min=1,
            delay_ms_max=self.rng.choice([10, 50, 300, 1_000]),
        )
        self.links.append(LinkSpan(start_ms, end_ms, faults))
        self.notes.append(
            f"links {start_ms}-{end_ms} ms: drop {faults.drop_fraction}, "
            f"duplicate {faults.duplicate_fraction}, "
            f"corrupt {faults.corrupt_fraction}, delay <= {faults.delay_ms_max} ms"
        )

    def draw_clocks(self) -> None:
        for _ in range(self.nodes):
            sign = self.rng.choice([-1, 1])
            offset_ms = sign * self.rng.choice([0, 0, 50, 500, 5_000, 40_000])
            drift_ppm = self.rng.choice([-1, 1]) * self.rng.choice([0, 0, 1_000, 10_000, 50_000])
            self.clocks.append(ClockSkew(offset_ms, drift_ppm))
        self._clock_notes_at = len(self.notes)

    def keep_clock_faults_within(self, allowed: int) -> None:
        """Bring clocks beyond the first ``allowed`` far-off ones back within the bound, then
        describe the clocks as they will run."""
        for replica, clock in enumerate(self.clocks):
            if abs(clock.offset_ms) <= CLOCK_FAULT_MS:
                continue
            if allowed > 0:
                allowed -= 1
                continue
            offset_ms = 5_000 if clock.offset_ms > 0 else -5_000
            self.clocks[replica] = ClockSkew(offset_ms, clock.drift_ppm)
        if self._clock_notes_at is not None:
            self.notes[self._clock_notes_at : self._clock_notes_at] = [
                f"{replica} clock {clock.offset_ms:+d} ms, drift {clock.drift_ppm:+d} ppm"
                for replica, clock in enumerate(self.clocks)
                if clock.offset_ms or clock.drift_ppm
            ]

    def draw_byzantine(self) -> None:
        count = self.rng.randint(1, max(compute_faults_max(self.nodes), 1))
        self.byzantine = [self.rng.choice(FAULTY_NAMES) for _ in range(count)]
        self.notes.append(f"byzantine {', '.join(self.byzantine)}")
