"""Every fenced code block of README.md and docs/*.md runs as written against a four-hub
localnet (tests/integration/docs/blocks.py says how blocks are found and which commands are
covered elsewhere). The blocks run in document order, sharing one network, as a reader
running them one after another would: in a directory that looks like a checkout (every
top-level entry of the repository linked in), with the network in ``.localnet`` on the
documented ports (in a network namespace of the test's own, where they are free) and the
``hubledger`` command on the PATH."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from hubledger_tools.netgen import NetworkLayout
from tests.integration.docs.blocks import (
    RUNNABLE,
    Block,
    find_blocks,
    get_not_run_reason,
    split_commands,
)
from tests.integration.docs.namespace import get_namespace_problem, own_network_namespace
from tests.integration.harness import LocalNetwork, wait_for

REPOSITORY = Path(__file__).resolve().parents[3]
HUBS = ["beijing", "shanghai", "shenzhen", "hangzhou"]
BLOCK_TIMEOUT_S = 120.0
BLOCKS = [block for block in find_blocks(REPOSITORY) if not block.fragment]


@dataclass
class Workspace:
    directory: Path
    network: LocalNetwork
    env: dict[str, str]


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Workspace]:
    problem = get_namespace_problem()
    if problem:
        pytest.skip(f"the documented ports need a network namespace of their own: {problem}")
    directory = tmp_path_factory.mktemp("docs")
    for entry in REPOSITORY.iterdir():
        if entry.name not in {".localnet", ".git", "test-artifacts"}:
            (directory / entry.name).symlink_to(entry)
    with own_network_namespace(f"hubledger-docs-{os.getpid()}"):
        network = LocalNetwork(directory / ".localnet", HUBS, layout=NetworkLayout())
        try:
            network.start_all()
            wait_for(lambda: all(network.readiness(hub)[0] == 200 for hub in HUBS), what="every hub ready")
            venv_bin = str(Path(sys.executable).parent)
            env = {**network.env, "PATH": f"{venv_bin}{os.pathsep}{os.environ.get('PATH', '')}"}
            yield Workspace(directory, network, env)
        finally:
            network.stop_all()


def test_every_block_is_runnable_or_marked_as_a_fragment() -> None:
    unmarked = [f"{block.name} ({block.language or 'no language'})" for block in find_blocks(REPOSITORY)
                if not block.fragment and block.language not in RUNNABLE]
    assert unmarked == [], (
        "give these blocks a language the test runs (sh, python, json) or put <!-- fragment --> "
        f"on the line above the fence: {unmarked}"
    )


@pytest.mark.parametrize("block", [b for b in BLOCKS if b.language in RUNNABLE], ids=lambda block: block.name)
def test_block_runs_as_written(block: Block, workspace: Workspace) -> None:
    text = block.text
    if block.language == "json":
        json.loads(text)
        return
    if block.language == "python":
        run(block, [sys.executable, "-"], text, workspace)
        return
    script, skipped = [], []
    for command in split_commands(text):
        reason = get_not_run_reason(command)
        script.append(f": not run: {reason}" if reason else command)
        if reason:
            skipped.append(f"{command.strip()}  ({reason})")
    if all(line.startswith(": not run") or not line.strip() for line in script):
        pytest.skip(f"{block.name}: every command is run elsewhere: {skipped}")
    run(block, ["bash", "-e", "-o", "pipefail", "-s"], "\n".join(script) + "\n", workspace)
    for line in skipped:
        print(f"{block.name}: not run here: {line}")


def run(block: Block, command: list[str], text: str, workspace: Workspace) -> None:
    finished = subprocess.run(
        command, input=text, capture_output=True, text=True, cwd=workspace.directory,
        env=workspace.env, timeout=BLOCK_TIMEOUT_S, check=False,
    )
    assert finished.returncode == 0, (
        f"{block.name} ({block.language}) failed with status {finished.returncode}:\n{text}\n"
        f"--- stdout\n{finished.stdout[-3000:]}\n--- stderr\n{finished.stderr[-3000:]}"
    )

