"""A local network of real node processes that the chaos runner can hurt.

Each hub is one ``hubledger node`` process on 127.0.0.1 with its own LevelDB.
The runner kills (SIGKILL), pauses (SIGSTOP) and resumes them, truncates a
stopped hub's database log, starts a twin with the same key, and sets link
rules through each hub's admin endpoint, opened with a token made for the run
and the operator certificate of each hub. Every request is TLS, checked against
the network's CA (hubledger_tools/trust.py).
"""

from __future__ import annotations

import os
import secrets
import signal
import ssl
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from hubledger_client.tls import make_client_context
from hubledger_tools import trust
from hubledger_tools.netgen import NetworkLayout, generate_network
from hubledger_tools.pki import PkiLayout
from hubledger_tools.ports import find_port_base
from ledger.genesis import Genesis
from ledger.keys import PrivateKey
from ledger.tls_identity import Identity, Role

START_TIMEOUT_S = 30.0
HTTP_TIMEOUT_S = 3.0


def http_json(
    url: str,
    body: Any = None,
    *,
    method: str | None = None,
    headers: dict[str, str] | None = None,
    timeout_s: float = HTTP_TIMEOUT_S,  # shorter than the tests': a hurt hub is given up on sooner
    context: ssl.SSLContext = trust.GENERATED_NETWORKS,
) -> tuple[int, Any]:
    return trust.http_json(url, body, method=method, headers=headers, timeout_s=timeout_s, context=context)


class ChaosCluster:
    def __init__(self, directory: Path, hubs: list[str], byzantine: dict[str, str]) -> None:
        self.directory = directory
        self.hubs = hubs
        self.byzantine = byzantine
        self.token = secrets.token_hex(16)
        base = find_port_base(2 * len(hubs) + 2)
        self.genesis: Genesis = generate_network(
            hubs, directory, layout=NetworkLayout(api_port_base=base, p2p_port_base=base + len(hubs))
        )
        self.ca_file = trust.trust_network(directory)
        self.twin_ports = (base + 2 * len(hubs), base + 2 * len(hubs) + 1)
        self.api_ports = {hub: base + index for index, hub in enumerate(hubs)}
        self.processes: dict[str, subprocess.Popen[bytes]] = {}
        self.paused: set[str] = set()

    def url(self, hub: str) -> str:
        return f"https://127.0.0.1:{self.api_ports[hub]}"

    def operator_context(self, hub: str) -> ssl.SSLContext:
        """Presents ``hub``'s operator certificate, which its admin endpoint wants with the token."""
        layout, operator = PkiLayout.of(self.directory), Identity(Role.OPERATOR, hub)
        return make_client_context(
            self.ca_file, certificate_file=layout.certificate(operator), key_file=layout.key(operator)
        )

    def account_key(self, name: str) -> PrivateKey:
        return PrivateKey.load(self.directory / "accounts" / f"{name}.pem")

    def is_up(self, hub: str) -> bool:
        return hub in self.processes and hub not in self.paused

    def start(self, hub: str, *, extra_env: dict[str, str] | None = None, name: str | None = None) -> None:
        name = name or hub
        environment = {**os.environ, "HUBLEDGER_LOG_FORMAT": "json", "HUBLEDGER_ADMIN_TOKEN": self.token}
        if hub in self.byzantine:
            environment["HUBLEDGER_NODE_BYZANTINE"] = self.byzantine[hub]
        environment.update(extra_env or {})
        log = (self.directory / f"{name}.log").open("ab")
        config = str(self.directory / f"{hub}.toml")
        command = [sys.executable, "-m", "hubledger_tools.cli", "node", "--config", config]
        self.processes[name] = subprocess.Popen(
            command, stdout=log, stderr=subprocess.STDOUT, env=environment
        )
        if name == hub:
            self._wait_healthy(hub)

    def start_twin(self, hub: str) -> str:
        """A second process with ``hub``'s key and genesis, its own ports and database."""
        name = f"{hub}-twin"
        api_port, p2p_port = self.twin_ports
        self.start(
            hub,
            name=name,
            extra_env={
                "HUBLEDGER_API_PORT": str(api_port),
                "HUBLEDGER_P2P_PORT": str(p2p_port),
                "HUBLEDGER_NODE_DATA_DIR": f"data/{name}",
            },
        )
        return name

    def _wait_healthy(self, hub: str) -> None:
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            process = self.processes[hub]
            if process.poll() is not None:
                tail = (self.directory / f"{hub}.log").read_text()[-2000:]
                raise RuntimeError(f"{hub} exited with status {process.returncode}:\n{tail}")
            try:
                if http_json(self.url(hub) + "/healthz", timeout_s=1.0)[0] == 200:
                    return
            except OSError:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"{hub} did not answer /healthz within {START_TIMEOUT_S} s")

    def kill(self, hub: str) -> None:
        process = self.processes.pop(hub, None)
        if process is not None:
            process.send_signal(signal.SIGKILL)
            process.wait(timeout=15)
        self.paused.discard(hub)

    def pause(self, hub: str) -> None:
        self.processes[hub].send_signal(signal.SIGSTOP)
        self.paused.add(hub)

    def resume(self, hub: str) -> None:
        if hub in self.paused:
            self.processes[hub].send_signal(signal.SIGCONT)
            self.paused.discard(hub)

    def truncate_log(self, hub: str) -> str:
        """Cut the newest LevelDB write-ahead log of a stopped hub in half: a torn tail."""
        if hub in self.processes:
            raise RuntimeError(f"truncate {hub} only while it is down")
        logs = sorted((self.directory / "data" / hub).glob("*.log"), key=lambda path: path.stat().st_mtime)
        if not logs:
            return "no write-ahead log to truncate"
        newest = logs[-1]
        size = newest.stat().st_size
        with newest.open("r+b") as handle:
            handle.truncate(size // 2)
        return f"{newest.name} cut from {size} to {size // 2} bytes"

    def set_rules(self, hub: str, rules: dict[str, Any]) -> None:
        headers = {"Authorization": f"Bearer {self.token}"}
        url, context = self.url(hub) + "/v1/admin/link-rules", self.operator_context(hub)
        if rules:
            code, answer = http_json(url, {"rules": rules}, method="PUT", headers=headers, context=context)
        else:
            code, answer = http_json(url, method="DELETE", headers=headers, context=context)
        if code != 200:
            raise RuntimeError(f"{hub} refused link rules: {answer}")

    def stop_all(self) -> None:
        for name in list(self.processes):
            self.resume(name)
            self.processes[name].terminate()
        for name, process in list(self.processes.items()):
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
            del self.processes[name]
