"""Scenario files: a TOML description of a network, its faults on a schedule and what to expect.

# What this scenario proves, in a sentence or two.
name = "primary-crash"
duration_s = 20          # faults happen within this; then everything heals and is checked
load_per_s = 5           # CBDC transfers submitted per second throughout
[byzantine]              # optional: hub -> behaviour from the simulator's catalogue
beijing = "equivocate"
[[faults]]
at_s = 4
action = "kill"          # kill | start | restart | pause | resume | isolate | partition
hub = "beijing"          #   | heal | truncate | double-spend | twin
[expect]
evidence_against = ["beijing"]   # honest hubs must hold evidence naming these validators
stalled_during = [8, 14]         # no honest hub commits in this window (a split)
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from consensus.simulation.behaviours import CATALOGUE
from node.errors import ConfigError

ACTIONS = (
    "kill",
    "start",
    "restart",
    "pause",
    "resume",
    "isolate",
    "partition",
    "heal",
    "truncate",
    "double-spend",
    "twin",
)
HUBS_DEFAULT = ("beijing", "shanghai", "shenzhen", "hangzhou")
DURATION_S_MAX = 600


@dataclass(frozen=True)
class Fault:
    at_s: float
    action: str
    hub: str = ""
    groups: tuple[tuple[str, ...], ...] = ()  # partition
    hubs: tuple[str, ...] = ()  # double-spend: the two hubs that each get one spend


@dataclass(frozen=True)
class Scenario:
    name: str
    path: Path
    description: str
    hubs: tuple[str, ...] = HUBS_DEFAULT
    duration_s: float = 20.0
    load_per_s: float = 5.0
    byzantine: dict[str, str] = field(default_factory=dict)
    faults: tuple[Fault, ...] = ()
    evidence_against: tuple[str, ...] = ()
    stalled_during: tuple[float, float] | None = None

    @property
    def honest_hubs(self) -> list[str]:
        twins = {fault.hub for fault in self.faults if fault.action == "twin"}
        return [hub for hub in self.hubs if hub not in self.byzantine and hub not in twins]


def load_scenario(path: Path) -> Scenario:
    """Read and check a scenario file; raises ConfigError naming the file and the field."""
    try:
        text = path.read_text()
        document = tomllib.loads(text)
    except OSError as error:
        raise ConfigError(f"{path}: cannot read the scenario: {error.strerror}") from None
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"{path}: not valid TOML: {error}") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: not UTF-8 text, so not a scenario") from None
    description = " ".join(line.lstrip("#").strip() for line in text.splitlines() if line.startswith("#"))
    try:
        return _build(path, document, description)
    except (KeyError, TypeError, ValueError) as error:
        raise ConfigError(f"{path}: {error}") from None


def _build(path: Path, document: dict[str, Any], description: str) -> Scenario:
    known = {"name", "hubs", "duration_s", "load_per_s", "byzantine", "faults", "expect"}
    unknown = set(document) - known
    if unknown:
        raise ValueError(f"unknown field(s): {', '.join(sorted(unknown))}")
    hubs = tuple(document.get("hubs", HUBS_DEFAULT))
    byzantine = dict(document.get("byzantine", {}))
    for hub, behaviour in byzantine.items():
        if hub not in hubs or behaviour not in CATALOGUE:
            raise ValueError(f"byzantine.{hub} = {behaviour!r}: names no hub or no behaviour")
    faults = tuple(_build_fault(item, hubs) for item in document.get("faults", []))
    expect = document.get("expect", {})
    stalled = expect.get("stalled_during")
    scenario = Scenario(
        name=str(document.get("name", path.stem)),
        path=path,
        description=description,
        hubs=hubs,
        duration_s=float(document.get("duration_s", 20.0)),
        load_per_s=float(document.get("load_per_s", 5.0)),
        byzantine=byzantine,
        faults=tuple(sorted(faults, key=lambda fault: fault.at_s)),
        evidence_against=tuple(expect.get("evidence_against", ())),
        stalled_during=(float(stalled[0]), float(stalled[1])) if stalled else None,
    )
    if not 0 < scenario.duration_s <= DURATION_S_MAX or not 0 <= scenario.load_per_s <= 200:
        raise ValueError(f"duration_s is in (0, {DURATION_S_MAX}] and load_per_s in [0, 200]")
    if len(scenario.hubs) < 1 or len(set(scenario.hubs)) != len(scenario.hubs):
        raise ValueError("hubs must name distinct hubs")
    return scenario


def _build_fault(item: dict[str, Any], hubs: tuple[str, ...]) -> Fault:
    action = str(item["action"])
    if action not in ACTIONS:
        raise ValueError(f"fault action {action!r} is not one of {', '.join(ACTIONS)}")
    fault = Fault(
        at_s=float(item["at_s"]),
        action=action,
        hub=str(item.get("hub", "")),
        groups=tuple(tuple(group) for group in item.get("groups", ())),
        hubs=tuple(item.get("hubs", ())),
    )
    named = [fault.hub] if fault.hub else []
    named += [hub for group in fault.groups for hub in group] + list(fault.hubs)
    for hub in named:
        if hub not in hubs:
            raise ValueError(f"fault at {fault.at_s} s names {hub!r}, which is not a hub of the scenario")
    needs_hub = action in ("kill", "start", "restart", "pause", "resume", "isolate", "truncate", "twin")
    if needs_hub and not fault.hub:
        raise ValueError(f"fault {action!r} at {fault.at_s} s needs a hub")
    return fault
