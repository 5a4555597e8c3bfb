"""The simulator's engine: instances, the actions they ask for, and the events that feed them.

``SimulatorCore`` builds the instances of one run (an honest ``Replica`` over a
``Host``, with a behaviour between its outgoing messages and the network),
carries their messages as bytes through the network to each receiver's door
(``decode_message``), runs their actions and timers on the virtual clock, and
checks each honest replica's own invariants (``Replica.check_invariants``)
after every step it takes. A ``FaultPlan``, when the run has one, decides
which messages are lost, when validators crash and how their clocks run.
What a run does with it, phase by phase, is ``simulator.Simulator``.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Sequence

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
from consensus.errors import InvariantViolation, PeerFault
from consensus.evidence import get_digest, get_slot
from consensus.message_door import VerifiedMessages, decode_message, is_from_link_peer
from consensus.messages import SignedMessage
from consensus.replica import Replica
from consensus.simulation.behaviour import Behaviour, BehaviourContext, Collusion, Emission
from consensus.simulation.behaviours import get_behaviour
from consensus.simulation.checker import REPLICA_INVARIANT, InvariantChecker
from consensus.simulation.clock import Event, VirtualClock
from consensus.simulation.faults import FETCH, FaultPlan, Loss, get_round
from consensus.simulation.injection import FaultInjection
from consensus.simulation.network import SimNetwork
from consensus.simulation.randomness import RandomFactory
from consensus.simulation.records import EVENTS_MAX, Instance, SimulationConfig
from consensus.simulation.world import Host, World
from ledger.block import Block
from ledger.certificate import CommitCertificate
from ledger.types import Hash, Height, ValidatorIndex

__all__ = ["EVENTS_MAX", "SimulatorCore"]


class SimulatorCore(FaultInjection):
    def __init__(self, world: World, config: SimulationConfig, make_random: RandomFactory) -> None:
        self.world = world
        self.config = config
        self.plan: FaultPlan | None = config.plan
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
        self._shape = (8, 50, 50)  # window_max, checkpoint_interval, block_transactions_max
        self._crashes_fired: set[int] = set()  # plan crashes triggered by a message, by position
        self._cuts: tuple[Loss, ...] = ()  # losses the run decided on the way (the sole holder cut off)

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
            view_floor_enforced=config.view_floor_enforced,
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
        self._run(instance, instance.replica.start(self.get_local_ms(instance)))
        self._check_replica(instance)

    def _crash(self, instance: Instance) -> None:
        instance.replica = None
        instance.crashes += 1
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
                skew = self._get_skew(instance)
                delay_ms = action.delay_ms if skew is None else skew.virtual_delay_ms(action.delay_ms)
                self.clock.set_timer(key, delay_ms, instance.number, action.timer)
            elif isinstance(action, CancelTimer):
                self.clock.cancel_timer((instance.number, action.timer))
            elif isinstance(action, Fetch):
                self.clock.schedule(self._network_rng.randint(1, 20), "fetch", instance.number, action)
            elif isinstance(action, RecordEvidence):
                instance.evidence += 1
                self.checker.on_evidence(instance.number, action.evidence, frozenset(self.faulty))

    def _send(self, instance: Instance, message: SignedMessage, recipients: list[ValidatorIndex]) -> None:
        sender_view = instance.replica.view if instance.replica is not None else 0
        sent: set[Hash] = set()
        for emission in instance.behaviour.on_send(message, recipients, self.get_local_ms(instance)):
            signed = emission.message
            if signed is not None and signed.kind == "commit" and signed.id not in sent:
                sent.add(signed.id)
                self.checker.on_commit_sent(signed)
            self._emit(instance, emission, sender_view)
        self._after_sent(instance, message)

    def _emit(self, instance: Instance, emission: Emission, sender_view: int = 0) -> None:
        kind = emission.message.kind if emission.message is not None else None
        view = get_round(emission.message, sender_view)
        for receiver in self.instances:
            if receiver.validator != emission.to or receiver is instance:
                continue
            if self._is_lost(kind, instance, receiver, view):
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
        now_ms = self.get_local_ms(instance)
        if event.kind == "timer":
            self._run(instance, replica.on_timer(event.payload[1], now_ms))
        elif event.kind == "message":
            self._on_message(instance, replica, *event.payload)
        elif event.kind == "fetch":
            self._on_fetch(instance, event.payload)
        elif event.kind == "fetched":
            peer, blocks = event.payload
            self._run(instance, replica.on_fetched(peer, blocks, now_ms))
        elif event.kind == "connected":
            self._run(instance, replica.on_peer_connected(ValidatorIndex(event.payload), now_ms))
        elif event.kind == "disconnected":
            self._run(instance, replica.on_peer_disconnected(ValidatorIndex(event.payload), now_ms))
        else:
            self.on_other_event(instance, replica, event)
        self._check_replica(instance)

    def on_other_event(self, instance: Instance, replica: Replica, event: Event) -> None:
        """Workload events: the run's business (``simulator``)."""

    def _check_replica(self, instance: Instance) -> None:
        """The replica's own invariants after its step (the others' state did not change)."""
        if not instance.honest or instance.replica is None:
            return
        try:
            instance.replica.check_invariants()
        except InvariantViolation as violation:
            self.checker.report(REPLICA_INVARIANT, f"instance {instance.number}: {violation}")

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
        if not is_from_link_peer(message, sender):
            self._count(instance, "door_sender_mismatch")  # not the link's peer: the node drops it
            return
        if instance.honest and message.sender in self.faulty:
            self._note_conflict(instance, replica, message)
        self._run(instance, replica.on_message(message, self.get_local_ms(instance)))

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
        asker_view = instance.replica.view if instance.replica is not None else 0
        for server in self.instances:
            if server.validator != fetch.peer or server.replica is None:
                continue
            if not self.network.can_reach(instance.number, server.number):
                continue
            if self._is_lost(FETCH, server, instance, asker_view):
                return  # the answer never arrives: the asker's fetch timer moves on
            for height in range(fetch.from_height, fetch.to_height + 1):
                certified = server.host.get_certified_block(Height(height))
                if certified is None:
                    break
                blocks.append(certified)
            break
        self.clock.schedule(
            self._network_rng.randint(1, 20), "fetched", instance.number, (fetch.peer, blocks)
        )


def _get_certificate(host: Host, height: Height) -> CommitCertificate | None:
    certified = host.get_certified_block(height)
    return None if certified is None else certified[1]
