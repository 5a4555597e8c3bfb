"""The nodes under test: a local network this run starts (and stops), or one that is already running.

A started network is generated with ``generate_network`` on a free port range
and each hub runs as ``python -m hubledger_tools.cli node --config <hub>.toml``, as
``hubledger localnet`` runs them, with its log in ``<dir>/<hub>.log``.
"""

from __future__ import annotations

import os
import ssl
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from hubledger_tools.netgen import NetworkLayout, generate_network
from hubledger_tools.ports import find_port_base
from hubledger_tools.trust import GENERATED_NETWORKS, http_json, trust_network
from hubledger_tools.wan.namespaces import NamespaceError, get_unavailable_reason
from hubledger_tools.wan.network import RelayError, WanNetwork
from ledger.genesis import Genesis
from node.errors import ConfigError

T = TypeVar("T")
START_TIMEOUT_S = 60.0
CHAIN_ID = "hubledger-bench"
STOP_GRACE_S = 20.0


class ClusterError(Exception):
    """Raised when the nodes under test cannot be started or reached."""


@dataclass
class Cluster:
    directory: Path
    genesis: Genesis
    urls: dict[str, str]  # hub -> client API URL
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    profiles: dict[str, Path] = field(default_factory=dict)  # hub -> cProfile output
    commands: dict[str, list[str]] = field(default_factory=dict)  # hub -> how it was started
    ssl_context: ssl.SSLContext = GENERATED_NETWORKS  # trusts the network's CA (hubledger_tools/trust.py)
    wan: WanNetwork | None = None  # the namespaces and relay of a WAN layout, removed by ``stop``

    @property
    def hubs(self) -> list[str]:
        return list(self.urls)

    @property
    def pids(self) -> dict[str, int]:
        return {hub: process.pid for hub, process in self.processes.items()}

    def stop(self) -> None:
        for process in self.processes.values():
            if process.poll() is None:
                process.terminate()
        for process in self.processes.values():
            _wait_or_kill(process)
        self.processes.clear()
        if self.wan is not None:
            self.wan.close()

    def get_views(self) -> dict[str, int]:
        """Each hub's consensus view now: 0 everywhere means no view change happened."""
        return {hub: int(get_json(url + "/v1/status")["view"]) for hub, url in self.urls.items()}

    def launch(self, hub: str) -> None:
        """Start ``hub``'s process (again), its log appended to ``<dir>/<hub>.log``."""
        env = {**os.environ, "HUBLEDGER_LOG_FORMAT": "json", "PYTHONUNBUFFERED": "1"}
        log = (self.directory / f"{hub}.log").open("ab")
        self.processes[hub] = subprocess.Popen(
            self.commands[hub], stdout=log, stderr=subprocess.STDOUT, env=env
        )

    def stop_hub(self, hub: str) -> None:
        """Stop one hub cleanly (SIGTERM) and forget its process; ``launch`` starts it again."""
        process = self.processes.pop(hub)
        process.terminate()
        _wait_or_kill(process)

    def check_alive(self) -> None:
        for hub, process in self.processes.items():
            if process.poll() is not None:
                tail = (self.directory / f"{hub}.log").read_text(errors="replace")[-2000:]
                raise ClusterError(f"{hub} exited with status {process.returncode}; its log ends:\n{tail}")


def _wait_or_kill(process: subprocess.Popen[bytes]) -> None:
    try:
        process.wait(timeout=STOP_GRACE_S)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def start_cluster(
    hubs: list[str], directory: Path, *, cprofile_hub: str | None = None, layout: str = "loopback"
) -> Cluster:
    """Generate a network in ``directory`` and start every hub; return once all are ready.
    ``layout`` "wan" puts each hub in a network namespace behind inter-city delays (hubledger_tools.wan)."""
    make = _make_wan_cluster if layout == "wan" else _make_loopback_cluster
    cluster = make(hubs, directory)
    try:
        trust_network(directory)
        for hub in hubs:
            command = [*(cluster.wan.exec_prefix(hub) if cluster.wan else []), sys.executable]
            if hub == cprofile_hub:
                cluster.profiles[hub] = directory / f"{hub}.prof"
                command += ["-m", "cProfile", "-o", str(cluster.profiles[hub])]
            config = str(directory / f"{hub}.toml")
            cluster.commands[hub] = [*command, "-m", "hubledger_tools.cli", "node", "--config", config]
            cluster.launch(hub)
        for hub in hubs:
            wait_for(lambda hub=hub: _is_ready(cluster, hub), what=f"{hub} to be ready")  # type: ignore[misc]
    except BaseException:
        cluster.stop()
        raise
    return cluster


def _make_loopback_cluster(hubs: list[str], directory: Path) -> Cluster:
    base = find_port_base(2 * len(hubs))
    layout = NetworkLayout(api_port_base=base, p2p_port_base=base + len(hubs))
    genesis = generate_network(hubs, directory, chain_id=CHAIN_ID, layout=layout)
    urls = {hub: f"https://127.0.0.1:{base + index}" for index, hub in enumerate(hubs)}
    return Cluster(directory, genesis, urls)


def _make_wan_cluster(hubs: list[str], directory: Path) -> Cluster:
    reason = get_unavailable_reason()
    if reason is not None:
        raise ClusterError(f"--layout wan needs network namespaces, and this machine has none: {reason}")
    try:
        wan = WanNetwork.create(hubs, directory, chain_id=CHAIN_ID)
    except (NamespaceError, RelayError) as error:
        raise ClusterError(f"cannot lay the network out over namespaces: {error}") from None
    return Cluster(directory, wan.genesis, dict(wan.urls), wan=wan)


def connect_cluster(urls: list[str], directory: Path) -> Cluster:
    """Running nodes at ``urls``; ``directory`` holds the network's genesis.json and accounts/."""
    try:
        genesis = Genesis.load(directory / "genesis.json")
    except Exception as error:
        raise ConfigError(f"--network {directory}: cannot read genesis.json: {error}") from None
    try:
        trust_network(directory)
    except (OSError, ValueError) as error:
        raise ConfigError(f"--network {directory}: cannot read its CA certificate: {error}") from None
    named: dict[str, str] = {}
    for url in urls:
        status = get_json(url.rstrip("/") + "/v1/status")
        if status.get("chain_id") != genesis.chain_id:
            raise ConfigError(f"{url} runs chain {status.get('chain_id')!r}, not {genesis.chain_id!r}")
        named[str(status["node"])] = url.rstrip("/")
    return Cluster(directory, genesis, named)


def _is_ready(cluster: Cluster, hub: str) -> bool:
    cluster.check_alive()
    try:
        get_json(cluster.urls[hub] + "/readyz", timeout_s=1.0)
    except (OSError, ValueError):
        return False
    return True


def get_json(url: str, *, timeout_s: float = 5.0) -> Any:
    """The JSON document at ``url``; ValueError unless it answers 200, OSError when nothing does."""
    status, document = http_json(url, timeout_s=timeout_s)
    if status != 200:
        raise ValueError(f"{url} answered {status}")
    return document


def wait_for(condition: Callable[[], T | None], *, what: str, timeout_s: float = START_TIMEOUT_S) -> T:
    deadline = time.monotonic() + timeout_s
    delay_s = 0.05
    while time.monotonic() < deadline:
        result = condition()
        if result:
            return result
        time.sleep(delay_s)
        delay_s = min(delay_s * 1.5, 0.5)
    raise ClusterError(f"timed out after {timeout_s:.0f} s waiting for {what}")
