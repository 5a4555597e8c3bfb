"""End-to-end tests: the node image built without a registry, four hubs in docker compose.

They run whenever a Docker engine answers, and are skipped with the reason when
none does. One network (a unique compose project) serves the whole session; each
test starts from a whole, synced network and the session always tears it down,
volumes included, and keeps the containers' logs under test-artifacts/.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.compose import REPOSITORY, ComposeNetwork, get_engine_problem
from tests.e2e.network import HubNetwork, measure_s

HUBS = ["beijing", "shanghai", "shenzhen", "hangzhou"]
CONTAINER_UID = 10001  # the image's hubledger user
BUILD_TIMEOUT_S = 900.0
ARTIFACTS = REPOSITORY / "test-artifacts"
TIMINGS_S: dict[str, float] = {}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "/tests/e2e/" in str(item.path):
            item.add_marker(pytest.mark.e2e)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if not TIMINGS_S:
        return
    terminalreporter.section("HubLedger e2e timings")
    for name, seconds in TIMINGS_S.items():
        terminalreporter.write_line(f"{name:<48} {seconds:8.2f} s")
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / "e2e-timings.json").write_text(json.dumps(TIMINGS_S, indent=2) + "\n")


@pytest.fixture(scope="session")
def node_image() -> str:
    """hubledger/node:latest, built by the operators' scripts (the base image is reused when present)."""
    problem = get_engine_problem()
    if problem:
        pytest.skip(f"e2e tests need Docker: {problem}")
    started = time.monotonic()
    finished = subprocess.run(
        [str(REPOSITORY / "scripts/image/build-node.sh")],
        capture_output=True, text=True, timeout=BUILD_TIMEOUT_S, cwd=REPOSITORY, check=False,
    )
    assert finished.returncode == 0, f"building the images failed:\n{finished.stderr[-4000:]}"
    TIMINGS_S["build images (base cached or not)"] = measure_s(started)
    return "hubledger/node:latest"


def generate_network(directory: Path, hubs: list[str]) -> Path:
    command = ["netgen", "--compose", "--hubs", ",".join(hubs), "--out", str(directory)]
    subprocess.run(
        [sys.executable, "-m", "hubledger_tools.cli", *command],
        check=True, capture_output=True, cwd=REPOSITORY, timeout=60,
    )
    # The container runs as uid 10001 and the keys are written 0600: hand them over, as an operator would.
    keys = [*(directory / "keys").glob("*.pem"), *(directory / "tls" / "hubs").glob("*.key")]
    for key in [*keys, *(directory / "tls" / "observers").glob("*.key")]:
        if os.geteuid() == 0:
            os.chown(key, CONTAINER_UID, CONTAINER_UID)
        else:
            key.chmod(0o644)  # throwaway test keys; root is needed to chown
    return directory


@pytest.fixture(scope="session")
def hub_network(node_image: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[HubNetwork]:
    network_dir = generate_network(tmp_path_factory.mktemp("e2e") / "network", HUBS)
    compose = ComposeNetwork(f"hubledger-e2e-{uuid.uuid4().hex[:8]}", network_dir, list(HUBS))
    network = HubNetwork(compose)
    try:
        started = time.monotonic()
        compose.up()
        network.wait_healthy()
        TIMINGS_S["up -> all four healthy and ready"] = measure_s(started)
        network.transfer(via="beijing")
        TIMINGS_S["up -> first committed block"] = measure_s(started)
        yield network
    finally:
        compose.save_logs(ARTIFACTS / f"{compose.project}.log")
        compose.down(volumes=True)


@pytest.fixture
def network(hub_network: HubNetwork) -> HubNetwork:
    """The session's network, whole again: every hub running, reachable and at one tip."""
    hub_network.restore()
    hub_network.wait_in_sync()
    return hub_network
