"""``hubledger simulate``: run one seeded schedule, or sweep many, through full replicas.

Three sources of faults: the catalogue sweep (phases drawn from a fixed menu,
with the behaviours named by ``--byzantine``), the swarm (``--swarm``: each seed
draws its own mix of faults and behaviours) and the explorer (``--explore``:
every case of a bounded scope, view by view). One run prints what happened and
the verdict. A sweep shows a progress bar, runs on ``--jobs`` processes, and
prints for every failing run the exact command that replays it; the exit
status is 1 when any run failed.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import random
import sys
import time
from collections.abc import Iterator, Sequence
from typing import Any, TextIO

from consensus.simulation.behaviours import CATALOGUE, FAULTY_NAMES
from consensus.simulation.explorer import SCOPES, make_case_config
from consensus.simulation.simulator import SimulationConfig, SimulationResult
from consensus.simulation.swarm import draw_swarm_config
from hubledger_tools.cli import arguments as types
from hubledger_tools.simulation import run_simulation
from node.errors import ConfigError

EVERY_BEHAVIOUR = "catalogue"  # one behaviour per seed, cycling through the catalogue
PROGRESS_WIDTH = 30
JOBS_MAX = 64
SEED = types.WholeNumber(0, 2**63 - 1, "a seed")
SEEDS = types.WholeNumber(1, 10**9, "a number of seeds")
NODES = types.WholeNumber(1, 64, "a number of validators")
PHASES = types.WholeNumber(0, 1000, "a number of phases")
CASE = types.WholeNumber(0, 10**9, "a case number")
JOBS = types.WholeNumber(1, JOBS_MAX, "a number of processes")


def add_simulate_command(commands: Any) -> None:
    parser = commands.add_parser("simulate", help="run seeded fault schedules through the simulator")
    parser.add_argument(
        "--seed", type=SEED, default=0, help="the seed to run (first seed of a sweep; default 0)"
    )
    parser.add_argument(
        "--seeds", type=SEEDS, default=1, help="run this many seeds from --seed on (default 1)"
    )
    parser.add_argument(
        "--nodes", type=NODES, default=4, help="validators in the simulated network (default 4)"
    )
    parser.add_argument(
        "--byzantine",
        default="",
        help=f"comma-separated behaviours, one per faulty validator ({', '.join(FAULTY_NAMES)}), "
        f"or '{EVERY_BEHAVIOUR}' for one behaviour per seed",
    )
    parser.add_argument("--collude", action="store_true", help="faulty validators share a plan to fork")
    parser.add_argument(
        "--phases", type=PHASES, default=3, help="fault phases before the network heals (default 3)"
    )
    parser.add_argument("--swarm", action="store_true", help="each seed draws its own mix of faults")
    parser.add_argument(
        "--explore", action="store_true", help="run every case of the explorer's scope (four validators)"
    )
    parser.add_argument(
        "--scope", choices=sorted(SCOPES), default="default", help="the explorer's scope (default: default)"
    )
    parser.add_argument("--case", type=CASE, default=None, help="run one case of the explorer's scope")
    parser.add_argument("--jobs", type=JOBS, default=1, help="processes to run a sweep on (default 1)")
    parser.add_argument(
        "--no-view-floor",
        action="store_true",
        help="test only: switch off the floor a NEW-VIEW proves (the negative control's fork)",
    )
    parser.add_argument("--json", action="store_true", help="print one JSON line per run")
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
    floor = not arguments.no_view_floor
    if arguments.swarm:
        return draw_swarm_config(seed, random.Random(seed), nodes=arguments.nodes, view_floor_enforced=floor)
    byzantine = parse_behaviours(arguments.byzantine, seed)
    if len(byzantine) > arguments.nodes:
        raise ConfigError(f"{len(byzantine)} Byzantine behaviours for {arguments.nodes} validators")
    return SimulationConfig(
        seed=seed,
        nodes=arguments.nodes,
        byzantine=byzantine,
        collude=arguments.collude,
        phases=arguments.phases,
        view_floor_enforced=floor,
    )


def make_configs(arguments: argparse.Namespace) -> list[SimulationConfig]:
    if arguments.explore:
        if arguments.swarm or arguments.byzantine:
            raise ConfigError("--explore runs its own cases: drop --swarm and --byzantine")
        scope = SCOPES[arguments.scope]
        numbers = range(scope.cases) if arguments.case is None else [arguments.case]
        if not all(0 <= number < scope.cases for number in numbers):
            raise ConfigError(f"--case must be between 0 and {scope.cases - 1} in scope {scope.name}")
        floor = not arguments.no_view_floor
        return [make_case_config(scope, number, view_floor_enforced=floor) for number in numbers]
    if arguments.case is not None:
        raise ConfigError("--case names a case of the explorer: add --explore")
    seeds = range(arguments.seed, arguments.seed + max(arguments.seeds, 1))
    return [make_config(arguments, seed) for seed in seeds]


def get_replay_command(config: SimulationConfig) -> str:
    if config.replay:
        return config.replay
    parts = ["hubledger simulate", f"--seed {config.seed}", f"--nodes {config.nodes}"]
    if config.byzantine:
        parts.append(f"--byzantine {','.join(config.byzantine)}")
    if config.collude:
        parts.append("--collude")
    parts.append(f"--phases {config.phases}")
    if not config.view_floor_enforced:
        parts.append("--no-view-floor")
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
    if not 1 <= arguments.jobs <= JOBS_MAX:
        raise ConfigError(f"--jobs must be between 1 and {JOBS_MAX}")
    configs = make_configs(arguments)
    if len(configs) == 1:
        return _run_one(configs[0], as_json=arguments.json)
    what = "cases" if arguments.explore else "seeds"
    return _sweep(configs, as_json=arguments.json, progress=sys.stderr, jobs=arguments.jobs, what=what)


def _run_one(config: SimulationConfig, *, as_json: bool) -> int:
    result = run_simulation(config)
    report = describe(result)
    if as_json:
        print(json.dumps(report))
        return 0 if result.is_ok else 1
    print(
        f"seed {config.seed}: {config.nodes} validators, faulty {report['faulty_validators'] or 'none'} "
        f"({', '.join(config.byzantine) or 'honest'})"
    )
    print(f"  faults: {'; '.join(result.phases) or 'none'}")
    print(
        f"  {result.steps} events over {result.virtual_ms} virtual ms; heights {result.heights}; "
        f"evidence recorded {result.evidence}; trace {result.trace_digest[:16]}"
    )
    for violation in result.violations:
        print(f"  VIOLATION {violation}")
    print("  verdict: " + ("ok" if result.is_ok else "FAILED") + f"; replay: {get_replay_command(config)}")
    return 0 if result.is_ok else 1


def _results(configs: Sequence[SimulationConfig], jobs: int) -> Iterator[SimulationResult]:
    if jobs == 1:
        yield from map(run_simulation, configs)
        return
    with multiprocessing.get_context("fork").Pool(jobs) as pool:
        yield from pool.imap(run_simulation, configs, chunksize=4)


def _sweep(
    configs: Sequence[SimulationConfig],
    *,
    as_json: bool,
    progress: TextIO,
    jobs: int = 1,
    what: str = "seeds",
) -> int:
    started = time.monotonic()
    failing: list[SimulationResult] = []
    for done, result in enumerate(_results(configs, jobs), start=1):
        config = result.config
        if as_json:
            print(json.dumps(describe(result)), flush=True)
        if not result.is_ok:
            failing.append(result)
            progress.write("\n")
            print(f"FAILED seed {config.seed}: {'; '.join(map(str, result.violations))}", flush=True)
            print(f"  faults: {'; '.join(result.phases)}", flush=True)
            print(f"  replay: {get_replay_command(config)}", flush=True)
        _draw_progress(progress, done, len(configs), len(failing), time.monotonic() - started, what)
    progress.write("\n")
    elapsed_s = time.monotonic() - started
    rate = len(configs) * 60 / elapsed_s if elapsed_s else 0.0
    print(
        f"{len(configs)} {what} in {elapsed_s:.1f} s ({rate:.0f} a minute, "
        f"{elapsed_s * jobs / len(configs):.3f} s each on {jobs} processes): {len(failing)} failing"
    )
    return 1 if failing else 0


def _draw_progress(stream: TextIO, done: int, total: int, failing: int, elapsed_s: float, what: str) -> None:
    filled = PROGRESS_WIDTH * done // total
    bar = "#" * filled + "-" * (PROGRESS_WIDTH - filled)
    rate = done * 60 / elapsed_s if elapsed_s else 0.0
    stream.write(f"\r[{bar}] {done}/{total} {what}, {failing} failing, {elapsed_s:.1f} s, {rate:.0f}/min")
    stream.flush()
