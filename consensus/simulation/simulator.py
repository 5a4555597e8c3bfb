"""One seeded run: full replicas, a faulty network, Byzantine wrappers and the checker.

The run is a loop over one event queue on a virtual clock (``clock``); the
engine (``engine``) holds the instances and carries their messages. Faults
come either from phases drawn from the seed (``schedule``: the catalogue
sweep) or from a ``FaultPlan`` (``faults``: drawn by the swarm, enumerated by
the explorer), whose workload is checked request by request. After the faults
everything heals, a final batch of transactions is submitted to every honest
replica, and the run ends when they all commit it (and, under a plan, every
request an honest replica accepted, with the honest replicas in one view) or
the liveness deadline passes. Every random draw comes from streams split off
the seed, so a run replays exactly.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence

from consensus.replica import Replica
from consensus.simulation.checker import (
    EXCEPTION,
    LIVENESS,
    REQUEST_LIVENESS,
    VIEW_CONVERGENCE,
)
from consensus.simulation.clock import Event
from consensus.simulation.engine import SimulatorCore
from consensus.simulation.network import LinkFaults
from consensus.simulation.records import EVENTS_MAX, Instance, SimulationConfig, SimulationResult
from consensus.simulation.schedule import Phase, draw_phases
from ledger.transaction import Transaction
from ledger.types import Hash

__all__ = ["EVENTS_MAX", "SimulationConfig", "SimulationResult", "Simulator"]


class Simulator(SimulatorCore):
    _final: list[Transaction]
    _nonces: dict[int, int]
    _accepted: dict[Hash, tuple[Transaction, int, int, int]]  # id -> tx, instance, its crashes, at ms
    _owed: list[Transaction]

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

    def _offer_workload(self, count: int, duration_ms: int) -> None:
        """A planned run's workload: each request is signed when it reaches an honest replica
        that is up (with its sender's next nonce), so every accepted request can commit."""
        rng = self._workload_rng
        senders = len(self.world.accounts) - self.config.final_transactions
        honest = [instance for instance in self.instances if instance.honest]
        for _ in range(count if honest else 0):
            sender = rng.randint(0, senders - 1)
            offer = (sender, (sender + rng.randint(1, senders - 1)) % senders, rng.randint(1, 1000))
            self.clock.schedule(rng.randint(0, duration_ms), "offer", rng.choice(honest).number, offer)

    def on_other_event(self, instance: Instance, replica: Replica, event: Event) -> None:
        now_ms = self.get_local_ms(instance)
        if event.kind == "submit":
            self._run(instance, replica.on_request(event.payload, now_ms))
        elif event.kind == "offer":
            sender, recipient, amount = event.payload
            nonce = self._nonces.get(sender, 0)
            self._nonces[sender] = nonce + 1
            transaction = self.world.make_transfer(sender, nonce, recipient, amount)
            self.checker.on_submitted(transaction.id)
            accepted = (transaction, instance.number, instance.crashes, self.clock.now_ms)
            self._accepted[transaction.id] = accepted
            self._run(instance, replica.on_request([transaction], now_ms))

    # ------------------------------------------------------------------ the run

    def run(self) -> SimulationResult:
        phases: list[Phase] = []
        self._final, self._nonces, self._accepted, self._owed = [], {}, {}, []
        try:
            self._build()
            for instance in self.instances:
                self._open(instance, wipe=True)
            if self.plan is not None:
                self._run_plan()
            else:
                phases = self._draw_phases()
                for phase in phases:
                    self._run_phase(phase)
            self._heal()
            self._check_liveness()
        except Exception as error:  # a crash of honest code is a finding, reported with its seed
            self.checker.report(EXCEPTION, f"{type(error).__name__}: {error}")
        for validator, seen in sorted(self.conflicts.items()):
            self.checker.expect_evidence(validator, seen)
        described = tuple(phase.mode for phase in phases)
        return SimulationResult(
            config=self.config,
            violations=list(self.checker.violations),
            steps=self._steps,
            virtual_ms=self.clock.now_ms - self.world.start_ms,
            heights={instance.number: instance.height for instance in self.instances},
            honest=tuple(instance.number for instance in self.instances if instance.honest),
            evidence=sum(instance.evidence for instance in self.instances if instance.honest),
            faulty=tuple(sorted(self.faulty)),
            phases=described if self.plan is None else self.plan.description,
            trace_digest=self._trace.hexdigest(),
            dropped=self._get_dropped(),
        )

    def _draw_phases(self) -> list[Phase]:
        honest = [instance.number for instance in self.instances if instance.honest]
        return draw_phases(
            self._schedule_rng,
            count=self.config.phases,
            honest=honest,
            wipe_allowed=len(self.faulty) < self.config.faults_max,
            transactions=self.config.transactions_per_phase,
        )

    def _get_dropped(self) -> dict[str, int]:
        dropped = Counter(self.dropped)
        for instance in self.instances:
            if instance.honest and instance.replica is not None:
                dropped.update(instance.replica.faults)
        return dict(sorted(dropped.items()))

    def _run_plan(self) -> None:
        plan = self.plan
        if plan is None:
            raise RuntimeError("a planned run needs a plan")
        for crash in plan.crashes:
            if crash.at_ms is not None:
                self.clock.schedule(crash.at_ms, "phase", 0, lambda crash=crash: self.crash_for(crash))
        for span in plan.links:
            self.clock.schedule(span.start_ms, "phase", 0, lambda faults=span.faults: self._set_links(faults))
            self.clock.schedule(span.end_ms, "phase", 0, self.network.heal)
        if self._twin_sides is not None:
            self.network.partition(self._twin_sides)
        self.schedule_reconnects(plan.losses)
        self._offer_workload(plan.transactions, plan.faults_end_ms)
        self._run_for(plan.faults_end_ms)

    def _set_links(self, faults: LinkFaults) -> None:
        self.network.faults = faults
        if self._twin_sides is not None:
            self.network.partition(self._twin_sides)

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
                self.connect(instance.validator, self._get_peers(instance.validator))
        if self.plan is not None:
            self._reconnect_cut()
        accounts = len(self.world.accounts)
        first = accounts - self.config.final_transactions
        self._final = [self.world.make_transfer(sender, 0, 0, 1) for sender in range(first, accounts)]
        honest = [instance for instance in self.instances if instance.honest]
        self._submit(self._final, honest, 0)
        self._owed = self._get_owed()

    def _reconnect_cut(self) -> None:
        """At the heal, the links still cut (by a partition or an isolation) come up."""
        plan = self.plan
        if plan is None:
            return
        end_ms = plan.faults_end_ms
        pairs: set[tuple[int, int]] = set()
        for loss in (*plan.losses, *self._cuts):
            if not loss.kinds and loss.senders is not None and loss.end_ms >= end_ms > loss.start_ms:
                pairs.update(
                    (min(receiver, sender), max(receiver, sender))
                    for receiver in loss.receivers
                    for sender in loss.senders
                )
        for receiver, sender in sorted(pairs):
            self.connect(receiver, [sender])

    def _get_owed(self) -> list[Transaction]:
        """Requests an honest replica accepted and still holds (it has not crashed since), each
        after every earlier nonce of its sender that is owed too: what must commit."""
        owed: list[Transaction] = []
        blocked: set[bytes] = set()
        for transaction, number, crashes, _ in self._accepted.values():
            instance = self.instances[number]
            holds = instance.honest and instance.crashes == crashes
            if transaction.sender in blocked or not holds:
                if not any(transaction.id in i.committed_ids for i in self.instances if i.honest):
                    blocked.add(transaction.sender)
                continue
            owed.append(transaction)
        return owed

    def _check_liveness(self) -> None:
        deadline_ms = self.clock.now_ms + self.config.liveness_ms
        waited = [*self._final, *self._owed]
        honest = [instance for instance in self.instances if instance.honest]

        def is_committed() -> bool:
            return all(all(t.id in i.committed_ids for t in waited) for i in honest)

        def is_done() -> bool:
            return is_committed() and (self.plan is None or self._is_one_view(honest))

        period_ms = 2 * self.config.request_timeout_ms
        while not is_done() and self.clock.now_ms < deadline_ms and not self.checker.is_safety_broken:
            self._run_for(period_ms, until=is_done)
            for instance in honest:  # the node's mempool offers what is still waiting again
                waiting = [t for t in self._final if t.id not in instance.committed_ids]
                if waiting:
                    self._submit(waiting, [instance], 0)
            self._offer_owed_again()
        if len(self.faulty) > self.config.faults_max or self.checker.is_safety_broken:
            return
        final_ids = {transaction.id for transaction in self._final}
        lagging = [i.number for i in honest if not final_ids <= i.committed_ids]
        if lagging:
            self.checker.report(
                LIVENESS,
                f"healed, but instances {lagging} did not commit the last "
                f"transactions within {self.config.liveness_ms} ms",
            )
        self._report_requests(honest)
        if self.plan is not None and not self._is_one_view(honest):
            views = {i.number: _get_view(i) for i in honest}
            self.checker.report(
                VIEW_CONVERGENCE,
                f"healed, but honest instances stay in different views {views} "
                f"after {self.config.liveness_ms} ms",
            )

    def _offer_owed_again(self) -> None:
        for transaction in self._owed:
            number = self._accepted[transaction.id][1]
            if transaction.id not in self.instances[number].committed_ids:
                self.clock.schedule(0, "submit", number, [transaction])

    def _report_requests(self, honest: list[Instance]) -> None:
        for transaction in self._owed:
            missing = [i.number for i in honest if transaction.id not in i.committed_ids]
            if missing:
                _, number, _, at_ms = self._accepted[transaction.id]
                self.checker.report(
                    REQUEST_LIVENESS,
                    f"request {transaction.id.hex()[:16]} (nonce {transaction.nonce}) accepted by "
                    f"instance {number} at {at_ms - self.world.start_ms} ms is not committed on "
                    f"instances {missing} {self.config.liveness_ms} ms after the heal",
                )
                return

    @staticmethod
    def _is_one_view(honest: list[Instance]) -> bool:
        views = {_get_view(instance) for instance in honest}
        return len(views) == 1 and -1 not in views

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


def _get_view(instance: Instance) -> int:
    """The view an instance orders in; -1 while it is down or changing view."""
    replica = instance.replica
    if replica is None or replica.get_status().view_change_in_progress:
        return -1
    return int(replica.view)
