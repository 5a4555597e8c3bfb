"""The lock files in requirements/ pin, with hashes, everything setup.cfg and pyproject.toml ask for.

The image build, CI and `make install` install from them with --require-hashes,
so a range in setup.cfg that the lock no longer satisfies (a dependency added or
narrowed without `make lock`) must fail here rather than at the next image build.
"""

from __future__ import annotations

import configparser
import re
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[3]
PIN = re.compile(r"^([A-Za-z0-9._-]+)==(\S+) \\$")


def read_lock(name: str) -> dict[str, tuple[str, int]]:
    """{canonical name: (version, number of hashes)} of requirements/<name>."""
    pins: dict[str, tuple[str, int]] = {}
    current = ""
    for line in (ROOT / "requirements" / name).read_text().splitlines():
        match = PIN.match(line)
        if match:
            current = canonicalize_name(match.group(1))
            pins[current] = (match.group(2), 0)
        elif line.strip().startswith("--hash=sha256:") and current:
            version, hashes = pins[current]
            pins[current] = (version, hashes + 1)
        elif line and not line.startswith((" ", "#")):
            pytest.fail(f"requirements/{name}: {line!r} is not a pinned requirement with hashes")
    return pins


def read_setup_requirements(*sections: str) -> list[Requirement]:
    parser = configparser.ConfigParser()
    parser.read(ROOT / "setup.cfg")
    texts = [parser["options"]["install_requires"]]
    texts += [parser["options.extras_require"][section] for section in sections]
    lines = [line.strip() for text in texts for line in text.splitlines()]
    requirements = [Requirement(line) for line in lines if line and not line.startswith("#")]
    return [requirement for requirement in requirements if requirement.name != "hubledger"]


@pytest.mark.parametrize(
    ("lock", "sections"), [("node.txt", ("node",)), ("dev.txt", ("node", "test"))]
)
def test_the_lock_satisfies_every_range_of_setup_cfg(lock: str, sections: tuple[str, ...]) -> None:
    pins = read_lock(lock)
    for requirement in read_setup_requirements(*sections):
        name = canonicalize_name(requirement.name)
        assert name in pins, f"{requirement} is in setup.cfg but not in requirements/{lock}: run `make lock`"
        version, hashes = pins[name]
        assert requirement.specifier.contains(version), (
            f"requirements/{lock} pins {name}=={version}, outside {requirement}: run `make lock`"
        )
        assert hashes >= 1, f"requirements/{lock} has no hash for {name}"


def test_the_build_lock_has_the_build_backend() -> None:
    pins = read_lock("build.txt")
    build_system = tomllib.loads((ROOT / "pyproject.toml").read_text())["build-system"]["requires"]
    for requirement in map(Requirement, build_system):
        version, hashes = pins[canonicalize_name(requirement.name)]
        assert requirement.specifier.contains(version) and hashes >= 1


def test_the_runtime_lock_holds_no_test_tool() -> None:
    assert not {"pytest", "mypy", "ruff", "hypothesis"} & set(read_lock("node.txt"))
