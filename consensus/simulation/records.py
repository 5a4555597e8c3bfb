"""What a simulated run is asked to do, the instances it runs, and what it reports."""

from __future__ import annotations

from dataclasses import dataclass, field

from consensus.message_door import VerifiedMessages
from consensus.replica import Replica
from consensus.simulation.behaviour import Behaviour
from consensus.simulation.checker import Violation
from consensus.simulation.faults import FaultPlan
from consensus.simulation.world import Host
from ledger.certificate import compute_faults_max
from ledger.types import Hash, ValidatorIndex

EVENTS_MAX = 2_000_000  # a run that needs more is reported, not waited for


@dataclass(frozen=True)
class SimulationConfig:
    seed: int
    nodes: int = 4
    byzantine: tuple[str, ...] = ()  # one behaviour per faulty validator
    collude: bool = False  # faulty validators share one plan to fork the honest ones
    phases: int = 3
    transactions_per_phase: int = 6
    final_transactions: int = 2
    liveness_ms: int = 60_000
    batch_delay_ms: int = 5
    view_timeout_ms: int = 400
    view_timeout_max_ms: int = 6_400
    request_timeout_ms: int = 800
    # A drawn or enumerated fault plan (swarm, explorer) replaces the phases; it also turns on
    # the liveness checks per request and per view.
    plan: FaultPlan | None = None
    replay: str = ""  # the command that replays this run, when it is not the plain seed's
    view_floor_enforced: bool = True  # test-only: False re-opens the fork of issue 14

    @property
    def faults_max(self) -> int:
        return compute_faults_max(self.nodes)


@dataclass
class Instance:
    number: int
    validator: ValidatorIndex
    behaviour: Behaviour
    honest: bool
    host: Host
    replica: Replica | None = None
    committed_ids: set[Hash] = field(default_factory=set)
    evidence: int = 0
    verified: VerifiedMessages = field(default_factory=VerifiedMessages)  # its door's memory, as a node's
    crashes: int = 0  # how often it lost its memory (a request it held may be gone)

    @property
    def height(self) -> int:
        return int(self.host.get_committed()[0])


@dataclass
class SimulationResult:
    config: SimulationConfig
    violations: list[Violation]
    steps: int
    virtual_ms: int
    heights: dict[int, int]  # by instance (twins are two instances of one validator)
    honest: tuple[int, ...]  # instances that ran honest code with their storage intact
    evidence: int
    faulty: tuple[int, ...]
    phases: tuple[str, ...]
    trace_digest: str
    dropped: dict[str, int]  # by honest replicas, by reason (refused at the door: "door_<code>")

    @property
    def is_ok(self) -> bool:
        return not self.violations
