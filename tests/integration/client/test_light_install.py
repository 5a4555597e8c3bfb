"""The client installs and works in a virtual environment without the node's dependencies.

A bank's application takes ``pip install hubledger``: the client library, the
data model and four pure or wheel-shipped libraries (aiohttp, cryptography,
cbor2, ecdsa). This test builds that install from a copy of only ledger/ and
hubledger_client/ (so no node, storage or tools code can be reached by
accident), installs it with pip into a fresh virtual environment, checks that
plyvel, uvloop, structlog and prometheus_client are absent there, and then uses
the client from that environment against a real network: a signed transfer
waited for, a signed read, and a finality proof checked against genesis.

pip needs PyPI (or its cache) for the four dependencies and the build backend;
when it cannot reach either, the test is skipped and says so.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import venv
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.harness import LocalNetwork

ROOT = Path(__file__).resolve().parents[3]
SCRIPT = Path(__file__).with_name("light_client_script.py")
CLIENT_SOURCES = ("ledger", "hubledger_client")
CLIENT_METADATA = ("setup.cfg", "pyproject.toml", "README.md")
NODE_ONLY_MODULES = (
    "plyvel", "uvloop", "structlog", "prometheus_client", "node", "storage", "hubledger_tools"
)
PIP_TIMEOUT_S = 300
OFFLINE_SIGNS = (
    "No matching distribution", "Could not find a version", "NewConnectionError", "Network is unreachable"
)

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def light_python(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The python of a fresh virtual environment holding the light install only."""
    work = tmp_path_factory.mktemp("light")
    source = work / "source"
    source.mkdir()
    for name in CLIENT_METADATA:
        shutil.copy2(ROOT / name, source / name)
    for name in CLIENT_SOURCES:
        shutil.copytree(ROOT / name, source / name, ignore=shutil.ignore_patterns("__pycache__"))
    environment = work / "venv"
    venv.EnvBuilder(with_pip=False, clear=True).create(environment)
    python = environment / "bin" / "python"
    install = subprocess.run(
        [sys.executable, "-m", "pip", "--python", str(python), "install", "--quiet",
         "--disable-pip-version-check", str(source)],
        capture_output=True, text=True, timeout=PIP_TIMEOUT_S, check=False, cwd=work,
    )
    if install.returncode != 0:
        if any(sign in install.stderr for sign in OFFLINE_SIGNS):
            pytest.skip(f"pip could not fetch the client's dependencies: {install.stderr.strip()[-300:]}")
        raise AssertionError(f"pip install of the light client failed:\n{install.stderr}")
    return python


@pytest.fixture(scope="module")
def network(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalNetwork]:
    network = LocalNetwork(tmp_path_factory.mktemp("net"), ["beijing", "shanghai", "shenzhen", "hangzhou"])
    network.start_all()
    yield network
    network.stop_all()


def run_isolated(
    python: Path, *arguments: str, cwd: Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run the light environment's python in isolated mode (-I: no PYTHONPATH, no user site, no
    current directory on sys.path), so nothing of this repository can be imported by accident."""
    return subprocess.run(
        [str(python), "-I", *arguments], capture_output=True, text=True, timeout=120, check=False, cwd=cwd,
        env=env,
    )


def test_the_light_install_lacks_the_node_and_its_dependencies(light_python: Path, tmp_path: Path) -> None:
    probe = (
        "import importlib.util, json; "
        f"names = {NODE_ONLY_MODULES}; "
        "print(json.dumps({name: importlib.util.find_spec(name) is not None for name in names}))"
    )
    done = run_isolated(light_python, "-c", probe, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    present = [name for name, found in json.loads(done.stdout).items() if found]
    assert present == [], f"the light install brings {present}"


def test_the_light_client_transfers_reads_and_checks_a_proof(
    light_python: Path, network: LocalNetwork, tmp_path: Path
) -> None:
    receiver = network.account_key("bank-shanghai").public_key.address.hex()
    done = run_isolated(
        light_python,
        str(SCRIPT),
        network.url("beijing"),
        str(network.directory / "accounts" / "bank-beijing.pem"),
        receiver,
        str(network.directory / "genesis.json"),
        cwd=tmp_path,
        env={**os.environ, "HUBLEDGER_CA": str(network.ca_file)},  # how a bank's script finds the CA
    )
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert Path(result["client_file"]).is_relative_to(light_python.parent.parent)
    assert result["success"] is True
    assert isinstance(result["balance"], int | str)
    assert result["proof_height"] >= 1
    assert len(result["signers"]) >= 3  # a quorum of the four hubs signed the block's COMMIT
