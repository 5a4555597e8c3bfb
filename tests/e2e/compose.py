"""Driving a HubLedger network in docker compose from a test: up, down, kill, pause, cut off.

``ComposeNetwork`` wraps one compose project (a unique name, its own network
directory and host ports) over the repository's docker-compose.yml. Every
command is run with a deadline and fails with its output, so a broken engine
shows up as a readable error rather than a hang.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from hubledger_tools.ports import find_port_base
from hubledger_tools.trust import trust_network

REPOSITORY = Path(__file__).resolve().parents[2]
COMPOSE_FILE = REPOSITORY / "docker-compose.yml"
NODE_IMAGE = "hubledger/node:latest"
PROMETHEUS_IMAGE = "hubledger/prometheus:latest"
ADMIN_TOKEN = "e2e-operator"  # opens the hubs' operator endpoints (hubledger backup)
COMMAND_TIMEOUT_S = 180.0


class DockerError(Exception):
    """Raised when a docker or compose command fails; carries what it printed."""


def run_command(arguments: Sequence[str], *, timeout_s: float = COMMAND_TIMEOUT_S,
                environ: dict[str, str] | None = None, cwd: Path = REPOSITORY) -> str:
    try:
        finished = subprocess.run(
            list(arguments), capture_output=True, text=True, timeout=timeout_s, env=environ, cwd=cwd,
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise DockerError(f"{' '.join(arguments)} did not finish within {timeout_s:.0f} s") from None
    if finished.returncode != 0:
        raise DockerError(
            f"{' '.join(arguments)} exited with {finished.returncode}:\n{finished.stdout}{finished.stderr}"
        )
    return finished.stdout


def get_engine_problem() -> str | None:
    """None when a Docker engine and a compose tool answer, else why the e2e tests cannot run."""
    if shutil.which("docker") is None:
        return "no docker command on PATH"
    try:
        run_command(["docker", "info", "--format", "{{.ServerVersion}}"], timeout_s=20)
    except DockerError as error:
        return f"no Docker engine answers `docker info`: {str(error).strip().splitlines()[-1]}"
    if not get_compose_command():
        return "neither `docker compose` nor `docker-compose` is installed"
    return None


def get_compose_command() -> list[str]:
    """`docker compose` (v2) where it exists, else `docker-compose` (v1); empty when neither does."""
    for command in (["docker", "compose"], ["docker-compose"]):
        try:
            run_command([*command, "version"], timeout_s=20)
        except (DockerError, FileNotFoundError):
            continue
        return command
    return []


@dataclass
class ComposeNetwork:
    project: str
    network_dir: Path
    hubs: list[str]
    api_ports: dict[str, int] = field(default_factory=dict)
    prometheus_port: int = 0  # of the service in profile "monitoring"
    observer_port: int = 0  # of the service in profile "observer"

    def __post_init__(self) -> None:
        self._compose = get_compose_command()
        trust_network(self.network_dir)  # the hubs' certificates come from the network's own CA
        if not self.api_ports:
            base = find_port_base(len(self.hubs) + 2)
            self.api_ports = {hub: base + index for index, hub in enumerate(self.hubs)}
            self.prometheus_port = base + len(self.hubs)
            self.observer_port = base + len(self.hubs) + 1
        self._environ = dict(os.environ)
        self._environ.update(
            HL_NETWORK_DIR=str(self.network_dir), HL_NODE_IMAGE=NODE_IMAGE, HL_BIND_ADDRESS="127.0.0.1",
            HL_PROMETHEUS_IMAGE=PROMETHEUS_IMAGE, HL_PROMETHEUS_PORT=str(self.prometheus_port),
            HL_OBSERVER_PORT=str(self.observer_port),
            HL_ADMIN_TOKEN=ADMIN_TOKEN,
        )
        for hub, port in self.api_ports.items():
            self._environ[f"HL_API_PORT_{hub.upper()}"] = str(port)

    def api_url(self, hub: str) -> str:
        return f"https://127.0.0.1:{self.api_ports[hub]}"

    def compose(self, *arguments: str, timeout_s: float = COMMAND_TIMEOUT_S) -> str:
        command = [*self._compose, "--project-name", self.project, "--file", str(COMPOSE_FILE), *arguments]
        return run_command(command, timeout_s=timeout_s, environ=self._environ)

    def up(self, *hubs: str) -> None:
        # --no-build: the image is built by scripts/image/build-node.sh, never pulled.
        self.compose("up", "--detach", "--no-build", *(hubs or self.hubs))

    def down(self, *, volumes: bool) -> None:
        self.compose("down", "--remove-orphans", *(["--volumes"] if volumes else []), timeout_s=120)

    def get_container(self, hub: str) -> str:
        container = self.compose("ps", "--quiet", hub).strip()
        if not container:
            raise DockerError(f"compose project {self.project} has no container for {hub}")
        return container

    def inspect(self, hub: str) -> dict[str, object]:
        document = json.loads(run_command(["docker", "inspect", self.get_container(hub)]))
        state: dict[str, object] = document[0]
        return state

    def get_health(self, hub: str) -> str:
        state = self.inspect(hub)["State"]
        assert isinstance(state, dict)
        health = state.get("Health") or {}
        return str(health.get("Status", "none")) if state.get("Running") else "stopped"

    def get_network_name(self, hub: str) -> str:
        settings = self.inspect(hub)["NetworkSettings"]
        assert isinstance(settings, dict)
        names: list[str] = sorted(settings["Networks"])
        if len(names) != 1:
            raise DockerError(f"{hub} is on networks {names}; expected the project's one network")
        return names[0]

    def disconnect(self, hub: str, network: str) -> None:
        run_command(["docker", "network", "disconnect", network, self.get_container(hub)])

    def connect(self, hub: str, network: str) -> None:
        # Peers address each other by service name: the alias must come back with the link.
        run_command(["docker", "network", "connect", "--alias", hub, network, self.get_container(hub)])

    def save_logs(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            path.write_text(self.compose("logs", "--no-color", "--timestamps", timeout_s=60))
        except DockerError as error:
            path.write_text(f"could not read the logs: {error}\n")
