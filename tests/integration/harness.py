"""Real HubLedger networks for integration tests: node processes on 127.0.0.1 with real LevelDB.

Nothing here sleeps and hopes: every wait polls a condition until a deadline
and fails with what it last saw. Every network speaks TLS, as netgen makes it:
``http_json`` here trusts the CA of every network this process generated, and
``LocalNetwork.operator_context`` presents a hub's operator certificate.
"""

from __future__ import annotations

import os
import signal
import ssl
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from hubledger_client.tls import make_client_context
from hubledger_tools.netgen import NetworkLayout, generate_network
from hubledger_tools.ports import find_port_base
from hubledger_tools.trust import http_json as http_json  # what the tests call, re-exported
from hubledger_tools.trust import trust_network
from hubledger_tools.wan.network import WanNetwork
from ledger.genesis import Genesis
from ledger.keys import PrivateKey
from ledger.tls_identity import Identity, Role

T = TypeVar("T")
DEADLINE_S = 30.0
ADMIN_TOKEN = "integration-tester"  # opens /v1/admin/link-rules when the env sets it



def wait_for(condition: Callable[[], T | None], *, timeout_s: float = DEADLINE_S, what: str) -> T:
    """Poll ``condition`` until it returns something truthy; fail naming ``what`` at the deadline."""
    deadline = time.monotonic() + timeout_s
    last_error: Exception | None = None
    delay = 0.02
    while time.monotonic() < deadline:
        try:
            result = condition()
            if result:
                return result
        except (OSError, urllib.error.URLError, ValueError, KeyError) as error:
            last_error = error
        time.sleep(delay)
        delay = min(delay * 1.5, 0.25)
    raise AssertionError(f"timed out after {timeout_s}s waiting for {what} (last error: {last_error})")


class LocalNetwork:
    """A generated network in ``directory`` whose hubs run as separate processes: on 127.0.0.1,
    or each in its network namespace of ``wan`` (which generated the network there)."""

    def __init__(
        self,
        directory: Path,
        hubs: list[str],
        env: dict[str, str] | None = None,
        layout: NetworkLayout | None = None,
        *,
        wan: WanNetwork | None = None,
    ) -> None:
        """``layout`` only where the ports cannot collide (a network namespace of its own)."""
        self.directory = directory
        self.hubs = hubs
        self.wan = wan
        if wan is not None:
            self.genesis: Genesis = wan.genesis
            self.urls, self.api_ports = dict(wan.urls), {}
        else:
            if layout is None:
                base = find_port_base(2 * len(hubs))
                layout = NetworkLayout(api_port_base=base, p2p_port_base=base + len(hubs))
            self.genesis = generate_network(hubs, directory, layout=layout)
            self.api_ports = {hub: layout.api_port_base + index for index, hub in enumerate(hubs)}
            self.urls = {hub: f"https://127.0.0.1:{port}" for hub, port in self.api_ports.items()}
        self.ca_file = trust_network(directory)
        self.context = make_client_context(self.ca_file)
        self.processes: dict[str, subprocess.Popen[bytes]] = {}
        self.env = {**os.environ, "HUBLEDGER_LOG_FORMAT": "json", **(env or {})}

    def url(self, hub: str) -> str:
        return self.urls[hub]

    def client_files(self, identity: Identity) -> tuple[Path, Path]:
        """The certificate and key netgen issued ``identity``."""
        from hubledger_tools.pki import PkiLayout

        layout = PkiLayout.of(self.directory)
        return layout.certificate(identity), layout.key(identity)

    def operator_context(self, hub: str) -> ssl.SSLContext:
        """Trusts the network's CA and presents ``hub``'s operator certificate (for admin endpoints)."""
        certificate, key = self.client_files(Identity(Role.OPERATOR, hub))
        return make_client_context(self.ca_file, certificate_file=certificate, key_file=key)

    def account_key(self, name: str) -> PrivateKey:
        return PrivateKey.load(self.directory / "accounts" / f"{name}.pem")

    def start(self, hub: str, env: dict[str, str] | None = None) -> None:
        """Start ``hub``'s process; ``env`` adds to the network's environment for it alone."""
        log = (self.directory / f"{hub}.log").open("ab")
        prefix = self.wan.exec_prefix(hub) if self.wan is not None else []
        config = f"{self.directory / hub}.toml"
        self.processes[hub] = subprocess.Popen(
            [*prefix, sys.executable, "-m", "hubledger_tools.cli", "node", "--config", config],
            stdout=log,
            stderr=subprocess.STDOUT,
            env={**self.env, **(env or {})},
        )
        wait_for(lambda: self._healthy(hub), what=f"{hub} to answer /healthz")

    def start_all(self) -> None:
        for hub in self.hubs:
            self.start(hub)

    def _healthy(self, hub: str) -> bool:
        process = self.processes[hub]
        if process.poll() is not None:
            log = (self.directory / f"{hub}.log").read_text()[-3000:]
            raise AssertionError(f"{hub} exited with status {process.returncode}:\n{log}")
        return http_json(self.url(hub) + "/healthz", timeout_s=1.0)[0] == 200

    def kill(self, hub: str, signum: int = signal.SIGKILL) -> None:
        process = self.processes.pop(hub)
        process.send_signal(signum)
        process.wait(timeout=15)

    def stop_all(self) -> None:
        for hub in list(self.processes):
            process = self.processes[hub]
            if process.poll() is None:
                process.terminate()
        for hub in list(self.processes):
            try:
                self.processes[hub].wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.processes[hub].kill()
                self.processes[hub].wait()
            del self.processes[hub]

    def pause(self, hub: str) -> None:
        """SIGSTOP: the process keeps its sockets and timers but runs nothing until ``resume``."""
        self.processes[hub].send_signal(signal.SIGSTOP)

    def resume(self, hub: str) -> None:
        self.processes[hub].send_signal(signal.SIGCONT)

    def set_link_rules(self, hub: str, rules: dict[str, Any]) -> None:
        """Replace ``hub``'s link rules (p2p.faults.LinkRule fields by peer name); {} heals.
        The network must be started with HUBLEDGER_ADMIN_TOKEN=ADMIN_TOKEN in its env."""
        code, answer = http_json(
            self.url(hub) + "/v1/admin/link-rules",
            {"rules": rules},
            method="PUT",
            headers={"Authorization": f"Bearer {ADMIN_TOKEN}"},
            context=self.operator_context(hub),
        )
        if code != 200:
            raise AssertionError(f"{hub} refused link rules: {code} {answer}")

    def isolate(self, hub: str) -> None:
        """Cut ``hub`` off from every other hub (links stay open; no payload crosses)."""
        others = [other for other in self.hubs if other != hub]
        self.set_link_rules(hub, {other: {"partitioned": True} for other in others})
        for other in others:
            self.set_link_rules(other, {hub: {"partitioned": True}})

    def heal(self) -> None:
        for hub in self.hubs:
            self.set_link_rules(hub, {})

    def readiness(self, hub: str) -> tuple[int, str]:
        """/readyz: its status code and, when not ready, the reason it gives."""
        code, document = http_json(self.url(hub) + "/readyz")
        reason = document.get("error", {}).get("message", "") if isinstance(document, dict) else ""
        return code, reason

    def status(self, hub: str) -> dict[str, Any]:
        code, document = http_json(self.url(hub) + "/v1/status")
        if code != 200:
            raise ValueError(f"status answered {code}")
        return dict(document)

    def height(self, hub: str) -> int:
        return int(self.status(hub)["height"])

    def block_hashes(self, hub: str, up_to: int) -> list[str]:
        """Block hashes 1..up_to from the headers, which a hub that prunes bodies keeps."""
        url = self.url(hub)
        return [http_json(f"{url}/v1/headers/{height}")[1]["hash"] for height in range(1, up_to + 1)]

    def log_text(self, hub: str) -> str:
        return (self.directory / f"{hub}.log").read_text()


def signed_get(network: LocalNetwork, hub: str, path: str, key: PrivateKey) -> tuple[int, Any]:
    """GET a private resource, signed as ``key``'s account (see ledger/read_auth.py)."""
    from ledger.read_auth import sign_read

    now_ms = time.time_ns() // 1_000_000
    headers = sign_read(key, chain_id=network.genesis.chain_id, method="GET", path=path, timestamp_ms=now_ms)
    return http_json(network.url(hub) + path, headers=headers)


class Submitter:
    """Signs and submits CBDC transfers from one bank, keeping its own nonce."""

    def __init__(self, network: LocalNetwork, bank: str, receiver: str) -> None:
        self.network = network
        self.key = network.account_key(bank)
        self.receiver = network.account_key(receiver).public_key.address.hex()
        self.nonce = 0
        self.sent = 0

    def transfer(self, hub: str, amount: int = 1) -> str:
        """Submits a transfer to ``hub``, waiting while it says it cannot take one yet."""
        code, answer = wait_for(
            lambda: _unless_not_serving(self.offer(hub, amount)), what=f"{hub} to take a transfer"
        )
        if code != 202:
            raise AssertionError(f"{hub} refused a transfer: {answer}")
        return str(answer["id"])

    def offer(self, hub: str, amount: int = 1) -> tuple[int, Any]:
        """One submission of a transfer to ``hub``: its answer; the nonce moves on only if taken."""
        from ledger.transaction import Transaction

        transaction = Transaction.create(
            self.key,
            chain_id=self.network.genesis.chain_id,
            nonce=self.nonce,
            contract="cbdc",
            method="transfer",
            args={"to": self.receiver, "amount": amount},
        )
        code, answer = http_json(self.network.url(hub) + "/v1/transactions", transaction.to_json())
        if code == 202:
            self.nonce += 1
            self.sent += amount
        return code, answer


def _unless_not_serving(answer: tuple[int, Any]) -> tuple[int, Any] | None:
    """None while the hub says it cannot take transactions yet (no quorum at start, behind)."""
    code, document = answer
    refused = code == 503 and isinstance(document, dict) and "error" in document
    return None if refused and document["error"]["code"] in ("NO_QUORUM", "BEHIND") else answer


def wait_committed_on(
    network: LocalNetwork, hub: str, transaction_id: str, timeout_s: float = DEADLINE_S
) -> dict[str, Any]:
    def committed() -> dict[str, Any] | None:
        code, record = http_json(f"{network.url(hub)}/v1/transactions/{transaction_id}")
        return record if code == 200 and record["status"] == "committed" else None

    return wait_for(committed, timeout_s=timeout_s, what=f"{transaction_id[:12]} committed on {hub}")


def assert_same_chain(network: LocalNetwork, hubs: list[str]) -> int:
    """Every hub holds the same block hash at every height up to the lowest hub's height."""
    height = wait_for(
        lambda: _common_height(network, hubs), what=f"{', '.join(hubs)} to reach the same height"
    )
    reference = network.block_hashes(hubs[0], height)
    for hub in hubs[1:]:
        assert network.block_hashes(hub, height) == reference, f"{hub} forked from {hubs[0]}"
    return height


def _common_height(network: LocalNetwork, hubs: list[str]) -> int | None:
    heights = [network.height(hub) for hub in hubs]
    return heights[0] if len(set(heights)) == 1 and heights[0] > 0 else None


def run_cli(
    network: LocalNetwork, *arguments: str, timeout_s: float = 180
) -> subprocess.CompletedProcess[str]:
    """The hubledger command as an operator's shell runs it, trusting the network's CA through
    HUBLEDGER_CA."""
    command = [sys.executable, "-m", "hubledger_tools.cli", *arguments]
    env = {**os.environ, "HUBLEDGER_CA": str(network.ca_file)}
    return subprocess.run(command, capture_output=True, text=True, timeout=timeout_s, check=False, env=env)
