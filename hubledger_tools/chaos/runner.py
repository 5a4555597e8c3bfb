"""Run one scenario: start the network, drive load, apply the faults on time, heal, check.

Faults are applied from the main thread at their second; between them the
runner samples every hub's height once a second for the timeline. After the
last fault and the scenario's duration it heals everything (link rules
removed, paused hubs resumed, killed hubs restarted, twins stopped), stops
the load, waits for the honest hubs to agree on a height and runs the checks.
"""

from __future__ import annotations

import contextlib
import tempfile
import time
from pathlib import Path

from hubledger_tools.chaos import checks
from hubledger_tools.chaos.cluster import ChaosCluster, http_json
from hubledger_tools.chaos.load import LoadDriver
from hubledger_tools.chaos.report import Report
from hubledger_tools.chaos.scenario import Fault, Scenario
from ledger.transaction import Transaction

SAMPLE_PERIOD_S = 1.0


class ChaosRun:
    def __init__(self, scenario: Scenario, directory: Path) -> None:
        self.scenario = scenario
        self.cluster = ChaosCluster(directory, list(scenario.hubs), scenario.byzantine)
        self.report = Report(
            scenario.name,
            scenario.description,
            list(scenario.hubs),
            scenario.honest_hubs,
            dict(scenario.byzantine),
        )
        spender = f"bank-{scenario.hubs[-1]}"
        double_spend = any(fault.action == "double-spend" for fault in scenario.faults)
        self.spender = spender if double_spend else ""
        self.spends: list[str] = []
        self.load = LoadDriver(self.cluster, scenario.load_per_s, reserved=(spender,) if double_spend else ())
        self.started = 0.0

    def note(self, event: str, detail: str = "") -> None:
        self.report.timeline.append({"t_s": round(self.elapsed_s, 2), "event": event, "detail": detail})

    @property
    def elapsed_s(self) -> float:
        return time.monotonic() - self.started

    def run(self) -> Report:
        self.started = time.monotonic()
        try:
            for hub in self.scenario.hubs:
                self.cluster.start(hub)
            self.started = time.monotonic()  # fault times count from a running network
            self.note("started", f"{len(self.scenario.hubs)} hubs")
            self.load.start()
            for fault in self.scenario.faults:
                self._wait_until(fault.at_s)
                self._apply(fault)
            self._wait_until(self.scenario.duration_s)
            self._heal()
            self._check()
        finally:
            self.load.stop()
            self.cluster.stop_all()
        self.report.elapsed_s = round(self.elapsed_s, 2)
        return self.report

    def _wait_until(self, at_s: float) -> None:
        while self.elapsed_s < at_s:
            self._sample()
            time.sleep(min(SAMPLE_PERIOD_S, max(0.0, at_s - self.elapsed_s)))

    def _sample(self) -> None:
        samples = self.report.samples
        if samples and self.elapsed_s - samples[-1]["t_s"] < SAMPLE_PERIOD_S * 0.9:
            return
        heights = {}
        for hub in self.scenario.hubs:
            if self.cluster.is_up(hub):
                with contextlib.suppress(OSError, ValueError):
                    heights[hub] = checks.get_height(self.cluster, hub)
        samples.append({"t_s": round(self.elapsed_s, 2), "heights": heights})

    def _apply(self, fault: Fault) -> None:
        cluster, hub = self.cluster, fault.hub
        detail = hub
        if fault.action == "kill":
            cluster.kill(hub)
        elif fault.action == "start":
            cluster.start(hub)
        elif fault.action == "restart":
            cluster.kill(hub)
            cluster.start(hub)
        elif fault.action == "pause":
            cluster.pause(hub)
        elif fault.action == "resume":
            cluster.resume(hub)
        elif fault.action in ("isolate", "partition"):
            groups = fault.groups or ((hub,), tuple(h for h in self.scenario.hubs if h != hub))
            self._partition(groups)
            detail = " | ".join(",".join(group) for group in groups)
        elif fault.action == "heal":
            self._clear_rules()
        elif fault.action == "truncate":
            detail = f"{hub}: {cluster.truncate_log(hub)}"
        elif fault.action == "double-spend":
            detail = self._double_spend(fault.hubs or tuple(self.scenario.hubs[:2]))
        elif fault.action == "twin":
            detail = f"{cluster.start_twin(hub)} runs with {hub}'s key"
        self.note(fault.action, detail)

    def _partition(self, groups: tuple[tuple[str, ...], ...]) -> None:
        for group in groups:
            others = [hub for hub in self.scenario.hubs if hub not in group]
            for hub in group:
                if self.cluster.is_up(hub):
                    self.cluster.set_rules(hub, {other: {"partitioned": True} for other in others})

    def _clear_rules(self) -> None:
        for hub in self.scenario.hubs:
            if self.cluster.is_up(hub):
                self.cluster.set_rules(hub, {})

    def _double_spend(self, hubs: tuple[str, ...]) -> str:
        key = self.cluster.account_key(self.spender)
        recipients = [f"bank-{hub}" for hub in self.scenario.hubs[:2]]
        answers = []
        for hub, recipient in zip(hubs, recipients, strict=False):
            to = self.cluster.account_key(recipient).public_key.address.hex()
            spend = Transaction.create(
                key,
                chain_id=self.cluster.genesis.chain_id,
                nonce=0,
                contract="cbdc",
                method="transfer",
                args={"to": to, "amount": 10_000_000_000},
            )
            self.spends.append(spend.id.hex())
            answers.append(
                f"{hub}:{http_json(self.cluster.url(hub) + '/v1/transactions', spend.to_json())[0]}"
            )
        return f"{self.spender} spends its whole balance twice, nonce 0 ({', '.join(answers)})"

    def _heal(self) -> None:
        for name in [name for name in self.cluster.processes if name.endswith("-twin")]:
            self.cluster.kill(name)
        for hub in self.scenario.hubs:
            self.cluster.resume(hub)
            if hub not in self.cluster.processes:
                self.cluster.start(hub)
        self._clear_rules()
        self.note("healed", "rules cleared, paused hubs resumed, killed hubs restarted")

    def _check(self) -> None:
        self.load.stop()
        self.report.load = {
            "submitted": self.load.submitted,
            "acknowledged": len(self.load.acknowledged),
            "refused": self.load.refused,
        }
        honest = self.scenario.honest_hubs
        height = checks.wait_converged(self.cluster, honest)
        self._sample()
        self.note("converged", f"height {height}")
        found = [checks.check_same_chain(self.cluster, honest, height)]
        found.append(checks.check_acknowledged(self.cluster, honest, self.load.acknowledged))
        found.append(checks.check_conservation(self.cluster, honest))
        faulty = set(self.scenario.hubs) - set(honest)
        found.append(checks.check_evidence(self.cluster, honest, self.scenario.evidence_against, faulty))
        if self.scenario.stalled_during is not None:
            found.append(checks.check_stalled(self.report.samples, honest, self.scenario.stalled_during))
        if self.spends:
            found.append(self._check_spends(honest))
        self.report.checks = found

    def _check_spends(self, honest: list[str]) -> checks.Check:
        committed = [
            spend
            for spend in self.spends
            if http_json(f"{self.cluster.url(honest[0])}/v1/transactions/{spend}")[1].get("status")
            == "committed"
        ]
        ok = len(committed) <= 1
        return checks.Check("double_spend", ok, f"{len(committed)} of the two conflicting spends committed")


def run_scenario(scenario: Scenario, *, work_dir: Path | None = None) -> Report:
    if work_dir is not None:
        return ChaosRun(scenario, work_dir).run()
    with tempfile.TemporaryDirectory(prefix=f"hubledger-chaos-{scenario.name}-") as directory:
        return ChaosRun(scenario, Path(directory)).run()
