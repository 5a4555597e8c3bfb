"""How long a wiped hub takes to join a long chain: from a snapshot against by replay.

A chain of N transfers is written into four hubs' stores (join_chain.py) and the
network is started from them; each hub takes a snapshot of its height at start.
Then, ``runs`` times and interleaved (replay, snapshot, snapshot, replay, ...), the
last hub is stopped, its data directory deleted, and it is started again, with
``[snapshots] join`` on (it joins from its peers' certified snapshot, then replays
what follows) or off (it replays every block from genesis by state transfer). A run
is timed from the process start until the hub's height reaches the chain's, and
checked: a snapshot join must leave the hub's first stored block above 1, a replay
at 1. Scripts/join_bench.py is the command; docs/benchmarks.md has the numbers.
"""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from hubledger_tools.bench.cluster import Cluster, ClusterError, get_json, wait_for
from hubledger_tools.bench.join_chain import BuiltChain, build_chain
from hubledger_tools.netgen import NetworkLayout
from hubledger_tools.ports import find_port_base
from hubledger_tools.trust import GENERATED_NETWORKS, trust_network

HUBS = ["beijing", "shanghai", "shenzhen", "hangzhou"]
MODES = ("snapshot", "replay")
JOIN_TIMEOUT_S = 3600.0


@dataclass(frozen=True)
class JoinRun:
    mode: str
    seconds: float
    height: int
    first_block_height: int


@dataclass
class JoinReport:
    transfers: int
    accounts: int
    height: int
    build_seconds: float
    runs: list[JoinRun] = field(default_factory=list)

    def median(self, mode: str) -> float:
        return statistics.median(run.seconds for run in self.runs if run.mode == mode)

    @property
    def ratio(self) -> float:
        """Replay time over snapshot time: how many times faster the snapshot join is."""
        return self.median("replay") / self.median("snapshot")

    def to_json(self) -> dict[str, Any]:
        return {
            **{key: value for key, value in asdict(self).items() if key != "runs"},
            "runs": [asdict(run) for run in self.runs],
            "median_seconds": {mode: self.median(mode) for mode in MODES},
            "ratio": self.ratio,
        }


def run_join_bench(
    directory: Path, *, transfers: int, accounts: int, runs: int, say: Callable[[str], None] = print
) -> JoinReport:
    base = find_port_base(2 * len(HUBS))
    layout = NetworkLayout(api_port_base=base, p2p_port_base=base + len(HUBS))
    say(f"building a certified chain of {transfers} transfers to {accounts} accounts in {directory}")
    built = build_chain(directory, HUBS, transfers=transfers, accounts=accounts, layout=layout)
    say(f"built {built.height} blocks in {built.seconds:.1f} s")
    report = JoinReport(transfers, accounts, built.height, built.seconds)
    cluster = _start_network(directory, built, base)
    try:
        for index in range(runs):
            order = MODES[::-1] if index % 2 == 0 else MODES  # interleaved: neither mode always goes first
            for mode in order:
                run = _time_join(cluster, HUBS[-1], mode, built.height)
                say(f"run {index + 1}: {mode} join to height {run.height} in {run.seconds:.2f} s")
                report.runs.append(run)
    finally:
        cluster.stop()
    return report


def _start_network(directory: Path, built: BuiltChain, base: int) -> Cluster:
    trust_network(directory)
    urls = {hub: f"https://127.0.0.1:{base + index}" for index, hub in enumerate(HUBS)}
    cluster = Cluster(directory, built.genesis, urls)
    try:
        for hub in HUBS:
            _launch(cluster, hub, {})
        for hub in HUBS:
            wait_for(lambda hub=hub: _height(cluster, hub) >= built.height, what=f"{hub} to serve its chain")  # type: ignore[misc]
    except BaseException:
        cluster.stop()
        raise
    return cluster


def _time_join(cluster: Cluster, hub: str, mode: str, height: int) -> JoinRun:
    cluster.stop_hub(hub)
    shutil.rmtree(cluster.directory / "data" / hub)
    started = time.monotonic()
    _launch(cluster, hub, {"HUBLEDGER_SNAPSHOTS_JOIN": "true" if mode == "snapshot" else "false"})
    wait_for(lambda: _height(cluster, hub) >= height, what=f"{hub} to join", timeout_s=JOIN_TIMEOUT_S)
    seconds = time.monotonic() - started
    first = int(_read_metric(cluster, hub, "hubledger_chain_first_block_height"))
    if (first > 1) != (mode == "snapshot"):
        raise ClusterError(f"a {mode} join left {hub}'s first stored block at {first}")
    return JoinRun(mode, seconds, _height(cluster, hub), first)


def _launch(cluster: Cluster, hub: str, env: dict[str, str]) -> None:
    config = str(cluster.directory / f"{hub}.toml")
    command = [sys.executable, "-m", "hubledger_tools.cli", "node", "--config", config]
    log = (cluster.directory / f"{hub}.log").open("ab")
    cluster.processes[hub] = subprocess.Popen(
        command,
        stdout=log,
        stderr=subprocess.STDOUT,
        env={**os.environ, "HUBLEDGER_LOG_FORMAT": "json", **env},
    )


def _height(cluster: Cluster, hub: str) -> int:
    cluster.check_alive()
    try:
        return int(get_json(cluster.urls[hub] + "/v1/status", timeout_s=2.0)["height"])
    except (OSError, ValueError):
        return -1


def _read_metric(cluster: Cluster, hub: str, name: str) -> float:
    url = cluster.urls[hub] + "/metrics"
    with urllib.request.urlopen(url, timeout=5, context=GENERATED_NETWORKS) as answer:
        for line in answer.read().decode().splitlines():
            if line.startswith(name + " "):
                return float(line.split()[1])
    raise ClusterError(f"{hub} exports no metric {name}")
