"""``hubledger simulate``: run one seeded schedule, or sweep many, through full replicas.

One seed prints what happened and the verdict. A sweep (``--seeds N``) shows a
progress bar and prints, for every failing seed, the exact command that
replays it; the exit status is 1 when any seed failed.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Sequence
from typing import Any, TextIO

from consensus.simulation.behaviours import CATALOGUE, FAULTY_NAMES
from consensus.simulation.simulator import SimulationConfig, SimulationResult
from hubledger_tools.simulation import run_simulation
from node.errors import ConfigError

EVERY_BEHAVIOUR = "catalogue"  # one behaviour per seed, cycling through the catalogue
PROGRESS_WIDTH = 30


def add_simulate_command(commands: Any) -> None:
    parser = commands.add_parser("simulate", help="run seeded fault schedules through the simulator")
    parser.add_argument("--seed", type=int, default=0, help="the seed to run (first seed of a sweep)")
    parser.add_argument("--seeds", type=int, default=1, help="run this many seeds from --seed on")
    parser.add_argument("--nodes", type=int, default=4, help="validators in the simulated network")
    parser.add_argument(
        "--byzantine",
        default="",
        help=f"comma-separated behaviours, one per faulty validator ({', '.join(FAULTY_NAMES)}), "
        f"or '{EVERY_BEHAVIOUR}' for one behaviour per seed",
    )
    parser.add_argument("--collude", action="store_true", help="faulty validators share a plan to fork")
    parser.add_argument("--phases", type=int, default=3, help="fault phases before the network heals")
    parser.add_argument("--json", action="store_true", help="print one JSON line per seed")
    parser.set_defaults(handler=run_simulate_command)


def parse_behaviours(text: str, seed: int) -> tuple[str, ...]:
    if text == EVERY_BEHAVIOUR:
        return (FAULTY_NAMES[seed % len(FAULTY_NAMES)],)
    names = tuple(name.strip() for name in text.split(",") if name.strip())
    for name in names:
        if name not in CATALOGUE:
            raise ConfigError(f"--byzantine names {name!r}; choose from {', '.join(sorted(CATALOGUE))}")
    return tuple(name for name in names if name != "honest")


def make_config(arguments: argparse.Namespace, seed: int) -> SimulationConfig:
    if not 1 <= arguments.nodes <= 64:
        raise ConfigError("--nodes must be between 1 and 64")
    if arguments.seeds < 1 or arguments.phases < 0:
        raise ConfigError("--seeds must be at least 1 and --phases not negative")
    byzantine = parse_behaviours(arguments.byzantine, seed)
    if len(byzantine) > arguments.nodes:
        raise ConfigError(f"{len(byzantine)} Byzantine behaviours for {arguments.nodes} validators")
    return SimulationConfig(
        seed=seed,
        nodes=arguments.nodes,
        byzantine=byzantine,
        collude=arguments.collude,
        phases=arguments.phases,
    )


def get_replay_command(config: SimulationConfig) -> str:
    parts = ["hubledger simulate", f"--seed {config.seed}", f"--nodes {config.nodes}"]
    if config.byzantine:
        parts.append(f"--byzantine {','.join(config.byzantine)}")
    if config.collude:
        parts.append("--collude")
    parts.append(f"--phases {config.phases}")
    return " ".join(parts)


def describe(result: SimulationResult) -> dict[str, Any]:
    config = result.config
    return {
        "seed": config.seed,
        "nodes": config.nodes,
        "byzantine": list(config.byzantine),
        "faulty_validators": list(result.faulty),
        "phases": list(result.phases),
        "ok": result.is_ok,
        "violations": [str(violation) for violation in result.violations],
        "steps": result.steps,
        "virtual_ms": result.virtual_ms,
        "heights": result.heights,
        "evidence": result.evidence,
        "trace": result.trace_digest,
        "replay": get_replay_command(config),
    }


def run_simulate_command(arguments: argparse.Namespace) -> int:
    seeds = range(arguments.seed, arguments.seed + max(arguments.seeds, 1))
    configs = [make_config(arguments, seed) for seed in seeds]
    if len(configs) == 1:
        return _run_one(configs[0], as_json=arguments.json)
    return _sweep(configs, as_json=arguments.json, progress=sys.stderr)


def _run_one(config: SimulationConfig, *, as_json: bool) -> int:
    result = run_simulation(config)
    report = describe(result)
    if as_json:
        print(json.dumps(report))
        return 0 if result.is_ok else 1
    print(
        f"seed {config.seed}: {config.nodes} validators, faulty {report['faulty_validators'] or 'none'} "
        f"({', '.join(config.byzantine) or 'honest'}), phases {', '.join(result.phases) or 'none'}"
    )
    print(
        f"  {result.steps} events over {result.virtual_ms} virtual ms; heights {result.heights}; "
        f"evidence recorded {result.evidence}; trace {result.trace_digest[:16]}"
    )
    for violation in result.violations:
        print(f"  VIOLATION {violation}")
    print("  verdict: " + ("ok" if result.is_ok else "FAILED"))
    return 0 if result.is_ok else 1


def _sweep(configs: Sequence[SimulationConfig], *, as_json: bool, progress: TextIO) -> int:
    started = time.monotonic()
    failing: list[SimulationResult] = []
    for done, config in enumerate(configs, start=1):
        result = run_simulation(config)
        if as_json:
            print(json.dumps(describe(result)), flush=True)
        if not result.is_ok:
            failing.append(result)
            progress.write("\n")
            print(f"FAILED seed {config.seed}: {'; '.join(map(str, result.violations))}", flush=True)
            print(f"  replay: {get_replay_command(config)}", flush=True)
        _draw_progress(progress, done, len(configs), len(failing), time.monotonic() - started)
    progress.write("\n")
    elapsed_s = time.monotonic() - started
    print(f"{len(configs)} seeds in {elapsed_s:.1f} s: {len(failing)} failing")
    return 1 if failing else 0


def _draw_progress(stream: TextIO, done: int, total: int, failing: int, elapsed_s: float) -> None:
    filled = PROGRESS_WIDTH * done // total
    bar = "#" * filled + "-" * (PROGRESS_WIDTH - filled)
    stream.write(f"\r[{bar}] {done}/{total} seeds, {failing} failing, {elapsed_s:.1f} s")
    stream.flush()
