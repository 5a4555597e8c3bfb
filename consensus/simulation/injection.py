"""How the engine applies a ``FaultPlan``: skewed clocks, lost messages and planned crashes.

A mixin of ``engine.SimulatorCore``, kept apart so the engine reads as the
plain loop it is; everything here is a no-op for a run without a plan. As the
node does (``p2p`` reports every new link), a replica hears
``on_peer_connected`` when a link to a peer comes up: both ends, when one of
them restarts, and when a cut between them (a partition, an isolation) ends.
And ``on_peer_disconnected`` when a peer crashes: at once (a reset) or up to a
silence limit later (a dead host). A cut keeps its links up, as the node's
link rules do, and says nothing.
"""

from __future__ import annotations

from consensus.messages import SignedMessage
from consensus.simulation.clock import VirtualClock
from consensus.simulation.faults import ClockSkew, Crash, FaultPlan, Loss, isolate
from consensus.simulation.randomness import RandomSource
from consensus.simulation.records import Instance, SimulationConfig
from consensus.simulation.world import World

CONNECT_MS_MIN, CONNECT_MS_MAX = 5, 500  # a link comes up: dialled at once, or after a backoff
DISCONNECT_MS_MIN, DISCONNECT_MS_MAX = 1, 1_500  # a crashed peer's link is seen down (p2p silence_max_ms)


class FaultInjection:
    world: World
    config: SimulationConfig
    plan: FaultPlan | None
    clock: VirtualClock
    instances: list[Instance]
    _crashes_fired: set[int]  # plan crashes triggered by a message, by position
    _cuts: tuple[Loss, ...]  # losses the run decided on the way (the sole holder cut off)
    _network_rng: RandomSource

    def _crash(self, instance: Instance) -> None:  # engine
        raise NotImplementedError

    def _open(self, instance: Instance, *, wipe: bool) -> None:  # engine
        raise NotImplementedError

    def get_local_ms(self, instance: Instance) -> int:
        """The instance's clock: virtual time, unless the plan skews it."""
        skew = self._get_skew(instance)
        if skew is None:
            return self.clock.now_ms
        return skew.local_ms(self.world.start_ms, self.clock.now_ms)

    def _get_skew(self, instance: Instance) -> ClockSkew | None:
        if self.plan is None or not self.plan.clocks:
            return None
        return self.plan.clocks[instance.validator]

    def _elapsed_ms(self) -> int:
        return self.clock.now_ms - self.world.start_ms

    def _is_lost(self, kind: str | None, sender: Instance, receiver: Instance, view: int) -> bool:
        plan = self.plan
        if plan is None or self._elapsed_ms() >= plan.faults_end_ms:
            return False
        return plan.is_lost(kind, sender.validator, receiver.validator, view, self._elapsed_ms(), self._cuts)

    def _after_sent(self, instance: Instance, message: SignedMessage) -> None:
        """A plan crash triggered by this message: the process dies right after sending it."""
        plan = self.plan
        if plan is None or self._elapsed_ms() >= plan.faults_end_ms:
            return
        view = int(getattr(message.body, "view", -1))
        for position, crash in enumerate(plan.crashes):
            if (
                crash.at_ms is None
                and position not in self._crashes_fired
                and crash.validator == instance.validator
                and crash.after_kind == message.kind
                and (crash.view is None or crash.view == view)
            ):
                self._crashes_fired.add(position)
                self.crash_for(crash)
        cut = plan.sole_holder_cut
        if cut is not None and not self._cuts and cut.after_kind == message.kind and instance.honest:
            others = [i.height for i in self.instances if i.honest and i is not instance]
            if others and instance.height > max(others):
                start_ms = self._elapsed_ms()
                self._cuts = isolate(
                    instance.validator,
                    self.config.nodes,
                    start_ms=start_ms,
                    end_ms=start_ms + cut.duration_ms,
                )
                self.schedule_reconnects(self._cuts)

    def crash_for(self, crash: Crash) -> None:
        victims = [i for i in self.instances if i.validator == crash.validator and i.replica is not None]
        for victim in victims:
            self._crash(victim)
        self._disconnect(crash.validator, within_ms=crash.restart_after_ms)
        self.clock.schedule(crash.restart_after_ms, "phase", 0, lambda: self._restart_all(victims))

    def _restart_all(self, victims: list[Instance]) -> None:
        for victim in victims:
            if victim.replica is None:
                self._open(victim, wipe=False)
                self.connect(victim.validator, self._get_peers(victim.validator))

    def _get_peers(self, validator: int) -> list[int]:
        return [peer for peer in range(self.config.nodes) if peer != validator]

    def connect(self, validator: int, peers: list[int]) -> None:
        """Links between ``validator`` and ``peers`` came up: each end hears of the other."""
        if self.plan is None:
            return
        for peer in peers:
            for number, other in ((validator, peer), (peer, validator)):
                for instance in self.instances:
                    if instance.validator == number and instance.replica is not None:
                        delay_ms = self._network_rng.randint(CONNECT_MS_MIN, CONNECT_MS_MAX)
                        self.clock.schedule(delay_ms, "connected", instance.number, other)

    def _disconnect(self, validator: int, *, within_ms: int) -> None:
        """``validator`` crashed: every live peer hears that its link to it went down, before
        the restarted validator's new link comes up (``within_ms``, its restart delay)."""
        latest_ms = max(DISCONNECT_MS_MIN, min(DISCONNECT_MS_MAX, within_ms))
        for instance in self.instances:
            if instance.validator != validator and instance.replica is not None:
                delay_ms = self._network_rng.randint(DISCONNECT_MS_MIN, latest_ms)
                self.clock.schedule(delay_ms, "disconnected", instance.number, validator)

    def schedule_reconnects(self, losses: tuple[Loss, ...]) -> None:
        """When a cut of whole links ends before the heal, its links come up again."""
        plan = self.plan
        if plan is None:
            return
        for loss in losses:
            if (
                loss.kinds
                or loss.view is not None
                or loss.senders is None
                or loss.end_ms >= plan.faults_end_ms
            ):
                continue
            for validator in sorted(loss.receivers):
                peers = sorted(loss.senders)
                delay_ms = loss.end_ms - self._elapsed_ms()
                self.clock.schedule(delay_ms, "phase", 0, lambda v=validator, p=peers: self.connect(v, p))
