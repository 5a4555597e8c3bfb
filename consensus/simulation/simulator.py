"""One seeded run: full replicas, a faulty network, Byzantine wrappers and the checker.

The run is a loop over one event queue on a virtual clock (``clock``). Each
instance is an honest ``Replica`` over a ``Host`` from the world, with a
behaviour between its outgoing messages and the network. Messages cross as
bytes and enter each replica through ``decode_message``, the node's door.
Fault phases come from ``schedule``; after the last one everything heals, a
final batch of transactions is submitted to every honest replica, and the run
ends when they all commit it or the liveness deadline passes. Every random
draw comes from streams split off the seed, so a run replays exactly.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from consensus.actions import (
    Action,
    Broadcast,
    CancelTimer,
    Deliver,
    Fetch,
    Persist,
    RecordEvidence,
    Send,
    SetTimer,
)
from consensus.config import ReplicaConfig
from consensus.errors import PeerFault
from consensus.evidence import get_digest, get_slot
from consensus.messages import SignedMessage, VerifiedMessages, decode_message
from consensus.replica import Replica
from consensus.simulation.behaviour import Behaviour, BehaviourContext, Collusion, Emission
from consensus.simulation.behaviours import get_behaviour
from consensus.simulation.checker import EXCEPTION, LIVENESS, InvariantChecker, Violation
from consensus.simulation.clock import Event, VirtualClock
from consensus.simulation.network import SimNetwork
from consensus.simulation.randomness import RandomFactory
from consensus.simulation.schedule import Phase, draw_phases
from consensus.simulation.world import Host, World
from ledger.block import Block
from ledger.certificate import CommitCertificate, compute_faults_max
from ledger.transaction import Transaction
from ledger.types import Hash, Height, ValidatorIndex

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


class Simulator:
    def __init__(self, world: World, config: SimulationConfig, make_random: RandomFactory) -> None:
        self.world = world
        self.config = config
        root = make_random(config.seed)
        streams = [make_random(root.getrandbits(63)) for _ in range(5)]
        self._schedule_rng, self._network_rng, self._workload_rng, self._behaviour_rng, self._layout_rng = (
            streams
        )
        self._make_random = make_random
        self.clock = VirtualClock(world.start_ms)
        self.network = SimNetwork(self._network_rng)
        keys = world.validator_keys
        self.checker = InvariantChecker(chain_id=world.chain_id, validator_keys=keys, genesis_hash=Hash(b""))
        self.instances: list[Instance] = []
        self.faulty: set[ValidatorIndex] = set()
        self._trace = hashlib.sha256()
        self._steps = 0
        self._seen: dict[tuple[int, int, str, int, int], Hash] = {}
        self.conflicts: dict[ValidatorIndex, int] = {}
        self.dropped: Counter[str] = Counter()
        self._twin_sides: tuple[list[int], list[int]] | None = None
        self._final: list[Transaction] = []
        self._shape = (8, 50, 50)  # window_max, checkpoint_interval, block_transactions_max

    # ------------------------------------------------------------------ setup

    def _build(self) -> None:
        config = self.config
        if len(config.byzantine) > config.nodes:
            raise ValueError("more Byzantine behaviours than validators")
        behaviours = [get_behaviour(name) for name in config.byzantine]
        rng = self._layout_rng
        self._shape = (rng.choice([1, 2, 4, 8]), rng.choice([3, 5, 10, 50]), rng.choice([1, 3, 50]))
        order = self._layout_rng.sample(range(config.nodes), config.nodes)
        if behaviours and self._layout_rng.random() < 0.5:
            order.remove(0)
            order.insert(0, 0)  # half the runs start with a faulty primary
        faulty = {ValidatorIndex(order[i]): behaviour for i, behaviour in enumerate(behaviours)}
        self.faulty = set(faulty)
        collusion = self._make_collusion(frozenset(faulty)) if config.collude else None
        for index in range(config.nodes):
            validator = ValidatorIndex(index)
            kind = faulty.get(validator, Behaviour)
            copies = 2 if kind.name == "twin" else 1
            for _ in range(copies):
                self._add_instance(validator, kind, collusion)
        if any(kind.name == "twin" for kind in behaviours):
            self._twin_sides = self._split_twins()

    def _make_collusion(self, members: frozenset[ValidatorIndex]) -> Collusion:
        honest = [ValidatorIndex(i) for i in range(self.config.nodes) if i not in members]
        shuffled = self._layout_rng.sample(honest, len(honest))
        half = (len(shuffled) + 1) // 2
        return Collusion(members, frozenset(shuffled[:half]), frozenset(shuffled[half:]))

    def _add_instance(
        self, validator: ValidatorIndex, kind: type[Behaviour], collusion: Collusion | None
    ) -> None:
        number = len(self.instances)
        context = BehaviourContext(
            chain_id=self.world.chain_id,
            validator_count=self.config.nodes,
            self_index=validator,
            key=self.world.get_key(validator),
            rng=self._make_random(self._behaviour_rng.getrandbits(63)),
            view_timeout_ms=self.config.view_timeout_ms,
            collusion=collusion if kind.counts_conflicts else None,
        )
        host = self.world.open_host(number, wipe=True)
        self.instances.append(Instance(number, validator, kind(context), not kind.is_faulty, host))

    def _split_twins(self) -> tuple[list[int], list[int]]:
        side_a: list[int] = []
        side_b: list[int] = []
        seen: set[ValidatorIndex] = set()
        honest = [instance.number for instance in self.instances if instance.honest]
        for instance in self.instances:
            if not instance.honest:
                (side_b if instance.validator in seen else side_a).append(instance.number)
                seen.add(instance.validator)
        shuffled = self._layout_rng.sample(honest, len(honest))
        half = (len(shuffled) + 1) // 2
        return side_a + shuffled[:half], side_b + shuffled[half:]

    def _replica_config(self, validator: ValidatorIndex) -> ReplicaConfig:
        config = self.config
        window_max, checkpoint_interval, block_transactions_max = self._shape
        return ReplicaConfig(
            chain_id=self.world.chain_id,
            validator_keys=self.world.validator_keys,
            self_index=validator,
            batch_delay_ms=config.batch_delay_ms,
            view_timeout_ms=config.view_timeout_ms,
            view_timeout_max_ms=config.view_timeout_max_ms,
            request_timeout_ms=config.request_timeout_ms,
            window_max=window_max,
            checkpoint_interval=checkpoint_interval,
            block_transactions_max=block_transactions_max,
        )

    def _open(self, instance: Instance, *, wipe: bool) -> None:
        if wipe and instance.replica is not None:
            raise RuntimeError("crash an instance before wiping it")
        instance.host = self.world.open_host(instance.number, wipe=wipe)
        height, tip, timestamp_ms = instance.host.get_committed()
        if wipe:
            instance.committed_ids.clear()
        # A restarted replica holds only its log, not the messages peers sent it before.
        self._seen = {key: digest for key, digest in self._seen.items() if key[0] != instance.number}
        self.checker.on_open(instance.number, height, tip)
        instance.replica = Replica(
            config=self._replica_config(instance.validator),
            key=self.world.get_key(instance.validator),
            application=instance.host.application,
            committed_height=height,
            committed_hash=tip,
            committed_timestamp_ms=timestamp_ms,
            committed_certificate=_get_certificate(instance.host, height),
            log_entries=instance.host.load_log(),
        )
        self._run(instance, instance.replica.start(self.clock.now_ms))

    def _crash(self, instance: Instance) -> None:
        instance.replica = None
        instance.verified = VerifiedMessages()  # a crashed process forgets what it had checked
        self.clock.cancel_timers_of(instance.number)

    # ------------------------------------------------------------------ actions

    def _run(self, instance: Instance, actions: Sequence[Action]) -> None:
        for action in actions:
            if instance.replica is None:
                return
            if isinstance(action, Send):
                self._send(instance, action.message, [action.to])
            elif isinstance(action, Broadcast):
                others = [ValidatorIndex(i) for i in range(self.config.nodes) if i != instance.validator]
                self._send(instance, action.message, others)
            elif isinstance(action, Persist):
                instance.host.write_log(action.puts, action.deletes)
            elif isinstance(action, Deliver):
                self._deliver(instance, action.block, action.certificate)
            elif isinstance(action, SetTimer):
                key = (instance.number, action.timer)
                self.clock.set_timer(key, action.delay_ms, instance.number, action.timer)
            elif isinstance(action, CancelTimer):
                self.clock.cancel_timer((instance.number, action.timer))
            elif isinstance(action, Fetch):
                self.clock.schedule(self._network_rng.randint(1, 20), "fetch", instance.number, action)
            elif isinstance(action, RecordEvidence):
                instance.evidence += 1
                self.checker.on_evidence(instance.number, action.evidence, frozenset(self.faulty))

    def _send(self, instance: Instance, message: SignedMessage, recipients: list[ValidatorIndex]) -> None:
        for emission in instance.behaviour.on_send(message, recipients, self.clock.now_ms):
            self._emit(instance, emission)

    def _emit(self, instance: Instance, emission: Emission) -> None:
        for receiver in self.instances:
            if receiver.validator != emission.to or receiver is instance:
                continue
            for copy in self.network.carry(instance.number, receiver.number, emission.data):
                payload = (instance.validator, copy.data)
                self.clock.schedule(emission.delay_ms + copy.delay_ms, "message", receiver.number, payload)

    def _deliver(self, instance: Instance, block: Block, certificate: CommitCertificate) -> None:
        instance.host.commit(block, certificate)
        instance.committed_ids.update(transaction.id for transaction in block.transactions)
        self._trace.update(b"D%d:%d:" % (instance.number, block.height) + block.hash)
        self.checker.on_deliver(instance.number, honest=instance.honest, block=block, certificate=certificate)
        if instance.honest:
            self.checker.on_conservation(instance.number, instance.host.get_conservation())

    # ------------------------------------------------------------------ events

    def _step(self, event: Event) -> None:
        self._steps += 1
        self.checker.now_ms = self.clock.now_ms
        self._trace.update(b"%d:%s:%d;" % (event.at_ms, event.kind.encode(), event.target))
        instance = self.instances[event.target]
        if event.kind == "phase":
            event.payload()
            return
        replica = instance.replica
        if replica is None:
            return
        now_ms = self.clock.now_ms
        if event.kind == "timer":
            self._run(instance, replica.on_timer(event.payload[1], now_ms))
        elif event.kind == "message":
            self._on_message(instance, replica, *event.payload)
        elif event.kind == "fetch":
            self._on_fetch(instance, event.payload)
        elif event.kind == "fetched":
            peer, blocks = event.payload
            self._run(instance, replica.on_fetched(peer, blocks, now_ms))
        elif event.kind == "submit":
            self._run(instance, replica.on_request(event.payload, now_ms))

    def _on_message(self, instance: Instance, replica: Replica, sender: ValidatorIndex, data: bytes) -> None:
        try:
            message = decode_message(
                data,
                chain_id=self.world.chain_id,
                validator_keys=self.world.validator_keys,
                verified=instance.verified,
            )
        except PeerFault as fault:
            self._count(instance, f"door_{fault.reason}")  # refused at the door, as the node refuses it
            return
        if message.sender != sender:
            self._count(instance, "door_sender_mismatch")  # not the link's peer: the node drops it
            return
        if instance.honest and message.sender in self.faulty:
            self._note_conflict(instance, replica, message)
        self._run(instance, replica.on_message(message, self.clock.now_ms))

    def _count(self, instance: Instance, reason: str) -> None:
        if instance.honest:
            self.dropped[reason] += 1

    def _note_conflict(self, instance: Instance, replica: Replica, message: SignedMessage) -> None:
        """Count a conflict only when the replica holds both messages: each was admitted to
        its current view and window. A message outside them is dropped unread (keeping it
        would let a faulty validator fill an honest replica's memory), so no evidence is owed."""
        slot = get_slot(message)
        if slot is None:
            return
        kind, view, height = slot
        window_max = self._shape[0]
        admissible = (
            view == replica.view
            and replica.committed_height < height <= replica.committed_height + 2 * window_max
            and not replica.get_status().view_change_in_progress
        )
        if not admissible:
            return
        key = (instance.number, message.sender, kind, view, height)
        if self._seen.setdefault(key, get_digest(message)) != get_digest(message):
            self.conflicts[message.sender] = self.conflicts.get(message.sender, 0) + 1

    def _on_fetch(self, instance: Instance, fetch: Fetch) -> None:
        blocks: list[tuple[Block, CommitCertificate]] = []
        for server in self.instances:
            if server.validator != fetch.peer or server.replica is None:
                continue
            if not self.network.can_reach(instance.number, server.number):
                continue
            for height in range(fetch.from_height, fetch.to_height + 1):
                certified = server.host.get_certified_block(Height(height))
                if certified is None:
                    break
                blocks.append(certified)
            break
        self.clock.schedule(
            self._network_rng.randint(1, 20), "fetched", instance.number, (fetch.peer, blocks)
        )

    # ------------------------------------------------------------------ workload

    def _submit(self, transactions: list[Transaction], targets: Sequence[Instance], delay_ms: int) -> None:
        for transaction in transactions:
            self.checker.on_submitted(transaction.id)
        for target in targets:
            self.clock.schedule(delay_ms, "submit", target.number, transactions)

    def _make_workload(self, count: int, duration_ms: int) -> None:
        rng = self._workload_rng
        senders = len(self.world.accounts) - self.config.final_transactions
        for _ in range(count):
            sender = rng.randint(0, senders - 1)
            recipient = (sender + rng.randint(1, senders - 1)) % senders
            nonce = max(self._get_nonce(sender), 0)
            transaction = self.world.make_transfer(sender, nonce, recipient, rng.randint(1, 1000))
            targets = rng.sample(self.instances, rng.randint(1, 2))
            self._submit([transaction], targets, rng.randint(0, duration_ms))

    def _get_nonce(self, account: int) -> int:
        address = self.world.accounts[account]
        honest = [instance for instance in self.instances if instance.honest]
        return max((instance.host.get_next_nonce(address) for instance in honest), default=0)

    # ------------------------------------------------------------------ the run

    def run(self) -> SimulationResult:
        phases: list[Phase] = []
        try:
            self._build()
            for instance in self.instances:
                self._open(instance, wipe=True)
            honest = [instance.number for instance in self.instances if instance.honest]
            wipe_allowed = len(self.faulty) < self.config.faults_max
            phases = draw_phases(
                self._schedule_rng,
                count=self.config.phases,
                honest=honest,
                wipe_allowed=wipe_allowed,
                transactions=self.config.transactions_per_phase,
            )
            for phase in phases:
                self._run_phase(phase)
            self._heal()
            self._check_liveness()
        except Exception as error:  # a crash of honest code is a finding, reported with its seed
            self.checker.report(EXCEPTION, f"{type(error).__name__}: {error}")
        for validator, seen in sorted(self.conflicts.items()):
            self.checker.expect_evidence(validator, seen)
        return SimulationResult(
            config=self.config,
            violations=list(self.checker.violations),
            steps=self._steps,
            virtual_ms=self.clock.now_ms - self.world.start_ms,
            heights={instance.number: instance.height for instance in self.instances},
            honest=tuple(instance.number for instance in self.instances if instance.honest),
            evidence=sum(instance.evidence for instance in self.instances if instance.honest),
            faulty=tuple(sorted(self.faulty)),
            phases=tuple(phase.mode for phase in phases),
            trace_digest=self._trace.hexdigest(),
            dropped=self._get_dropped(),
        )

    def _get_dropped(self) -> dict[str, int]:
        dropped = Counter(self.dropped)
        for instance in self.instances:
            if instance.honest and instance.replica is not None:
                dropped.update(instance.replica.faults)
        return dict(sorted(dropped.items()))

    def _run_phase(self, phase: Phase) -> None:
        victims = [self.instances[number] for number in phase.victims]
        self.network.faults = phase.link_faults
        if self._twin_sides is not None:
            self.network.partition(self._twin_sides)
        elif phase.mode == "isolate":
            self.network.partition([phase.victims])
        elif phase.mode == "split":
            rest = [i.number for i in self.instances if i.number not in phase.victims]
            self.network.partition([phase.victims, rest])
        if phase.mode in ("crash", "restart", "wipe"):
            for victim in victims:
                self._crash(victim)
        if phase.mode == "restart":
            self.clock.schedule(
                phase.restart_after_ms, "phase", 0, lambda: self._restart(victims, wipe=False)
            )
        self._make_workload(phase.transactions, phase.duration_ms)
        self._run_for(phase.duration_ms)
        self.network.heal()
        if phase.mode in ("crash", "wipe"):
            self._restart(victims, wipe=phase.mode == "wipe")

    def _restart(self, victims: list[Instance], *, wipe: bool) -> None:
        for victim in victims:
            if victim.replica is None:
                if wipe:
                    victim.honest = False
                    self.faulty.add(victim.validator)
                self._open(victim, wipe=wipe)

    def _heal(self) -> None:
        self.network.heal()
        for instance in self.instances:
            if instance.replica is None:
                self._open(instance, wipe=False)
        accounts = len(self.world.accounts)
        first = accounts - self.config.final_transactions
        self._final = [self.world.make_transfer(sender, 0, 0, 1) for sender in range(first, accounts)]
        honest = [instance for instance in self.instances if instance.honest]
        self._submit(self._final, honest, 0)

    def _check_liveness(self) -> None:
        deadline_ms = self.clock.now_ms + self.config.liveness_ms
        final_ids = {transaction.id for transaction in self._final}
        honest = [instance for instance in self.instances if instance.honest]

        def is_done() -> bool:
            return all(final_ids <= instance.committed_ids for instance in honest)

        period_ms = 2 * self.config.request_timeout_ms
        while not is_done() and self.clock.now_ms < deadline_ms and not self.checker.is_safety_broken:
            self._run_for(period_ms, until=is_done)
            for instance in honest:  # the node's mempool offers what is still waiting again
                waiting = [t for t in self._final if t.id not in instance.committed_ids]
                if waiting:
                    self._submit(waiting, [instance], 0)
        if not is_done() and len(self.faulty) <= self.config.faults_max and not self.checker.is_safety_broken:
            lagging = [i.number for i in honest if not final_ids <= i.committed_ids]
            self.checker.report(
                LIVENESS,
                f"healed, but instances {lagging} did not commit the last "
                f"transactions within {self.config.liveness_ms} ms",
            )

    def _run_for(self, duration_ms: int, until: Callable[[], bool] | None = None) -> None:
        end_ms = self.clock.now_ms + duration_ms
        while (until is None or not until()) and not self.checker.is_safety_broken:
            event = self.clock.pop(end_ms)
            if event is None:
                break
            if self._steps >= EVENTS_MAX:
                raise RuntimeError(f"more than {EVENTS_MAX} events: the run does not settle")
            self._step(event)
        self.clock.now_ms = max(self.clock.now_ms, end_ms)


def _get_certificate(host: Host, height: Height) -> CommitCertificate | None:
    certified = host.get_certified_block(height)
    return None if certified is None else certified[1]
