"""The fenced code blocks of README.md and docs/*.md, found by reading the files (so a block
added tomorrow is tested tomorrow), and what it takes to run one of them as written.

A block introduced by a line ``<!-- fragment -->`` right above its fence is a piece of
something (a config excerpt, a message layout, a diagram) and is not run. Every other block
must be in a language the test runs: a shell block runs in bash, a python block as a script,
a json block must parse.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

FRAGMENT_MARK = "<!-- fragment -->"
SHELL = frozenset({"sh", "bash", "shell", "console"})
RUNNABLE = SHELL | {"python", "json"}
FENCE = re.compile(r"^(?P<indent>\s*)(?P<fence>```+|~~~+)\s*(?P<language>[\w+-]*)")

# Commands a block may show that this test does not run, each with where it is covered instead.
NOT_RUN = (
    (re.compile(r"^make (run|install)\b"), "the test started the localnet itself, as `make run` does"),
    (
        re.compile(r"\bpytest\b.*\btests/integration/wan\b"),
        "needs root and starts network namespaces: it is tests/integration/wan, which make test runs",
    ),
    (re.compile(r"^make\b|\bpytest\b"), "the test suite this test belongs to"),
    (
        re.compile(r"\bdocker(-compose)?\b|^scripts/image/|\bscripts/compose\.sh\b"),
        "needs Docker and the images: tests/e2e runs it",
    ),
    (
        re.compile(r"-m venv\b|\bpip\b.* install\b"),
        "installs from the package index: make install and CI install the same lock files",
    ),
    (re.compile(r"\bchaos run\b"), "minutes of faults under load: tests/integration/chaos"),
    (re.compile(r"\bsimulate\b.*--seeds \d{3,}"), "hundreds of seeds: tests/simulation, make swarm"),
    (
        re.compile(r"--layout wan\b"),
        "needs root and starts network namespaces: tests/integration/wan/test_wan_bench.py runs it",
    ),
    (re.compile(r"\bbench\b"), "minutes of load: tests/integration/bench"),
    (re.compile(r"\bnetwork/(accounts|keys|tls)/"), "the keys of a compose network: tests/e2e runs it"),
    (re.compile(r"127\.0\.0\.1:9090\b"), "Prometheus of the compose profile monitoring: tests/e2e runs it"),
)


@dataclass(frozen=True)
class Block:
    path: Path
    line: int  # of the opening fence, from 1
    language: str
    text: str
    fragment: bool

    @property
    def name(self) -> str:
        return f"{self.path.name}:{self.line}"


def find_blocks(root: Path) -> list[Block]:
    """Every fenced block of README.md and docs/*.md under ``root``, in reading order."""
    blocks: list[Block] = []
    for path in [root / "README.md", *sorted((root / "docs").glob("*.md"))]:
        blocks += _read_blocks(path, root)
    return blocks


def _read_blocks(path: Path, root: Path) -> list[Block]:
    lines = path.read_text(encoding="utf-8").splitlines()
    blocks, index = [], 0
    while index < len(lines):
        opening = FENCE.match(lines[index])
        if opening is None:
            index += 1
            continue
        indent, fence = len(opening["indent"]), opening["fence"]
        end = index + 1
        while end < len(lines) and not lines[end].strip().startswith(fence):
            end += 1
        body = "\n".join(_dedent(line, indent) for line in lines[index + 1 : end])
        fragment = index > 0 and lines[index - 1].strip() == FRAGMENT_MARK
        language = opening["language"].lower()
        blocks.append(Block(path.relative_to(root), index + 1, language, body + "\n", fragment))
        index = end + 1
    return blocks


def _dedent(line: str, indent: int) -> str:
    """A block inside a list item is indented with its fence: take that much off each line."""
    if indent == 0:
        return line
    return line[indent:] if line[:indent].isspace() else line.lstrip()


def split_commands(text: str) -> list[str]:
    """Shell text as logical lines: a line ending in a backslash goes on with the next."""
    commands, current = [], ""
    for line in text.splitlines():
        current += line
        if current.endswith("\\"):
            current = current[:-1] + " "
            continue
        commands.append(current)
        current = ""
    if current:
        commands.append(current)
    return commands


def get_not_run_reason(command: str) -> str | None:
    stripped = command.strip()
    if not stripped or stripped.startswith("#"):
        return None
    for pattern, reason in NOT_RUN:
        if pattern.search(stripped):
            return reason
    return None
