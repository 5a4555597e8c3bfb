"""``hubledger chaos``: run fault scenarios against a local network of real processes.

``hubledger chaos run scenarios/primary-crash.toml`` starts the network, applies
the scenario's faults under load, prints the verdict and a timeline, and writes
a JSON report and a summary into ``--out``. ``hubledger chaos list`` shows the
catalogue with what each scenario proves. Exit status 1 when a check failed.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from hubledger_tools.chaos.report import format_summary
from hubledger_tools.chaos.runner import run_scenario
from hubledger_tools.chaos.scenario import load_scenario
from hubledger_tools.cli import arguments as types

SCENARIOS_DIR = Path("scenarios")


def add_chaos_command(commands: Any) -> None:
    chaos = commands.add_parser("chaos", help="run fault scenarios against a local network of real nodes")
    actions = chaos.add_subparsers(dest="chaos_command", required=True, metavar="ACTION")
    run = actions.add_parser("run", help="run one or more scenario files")
    run.add_argument(
        "scenarios", type=types.existing_file, nargs="+", metavar="SCENARIO", help="a .toml file"
    )
    run.add_argument(
        "--out",
        type=types.output_directory,
        default=Path("chaos-reports"),
        help="directory for the reports (default chaos-reports)",
    )
    run.add_argument(
        "--keep", type=types.new_directory, help="run the network in this new directory and keep it"
    )
    run.set_defaults(handler=_run)
    listing = actions.add_parser("list", help="list the scenarios of a directory")
    listing.add_argument(
        "--dir", type=types.existing_directory, default=SCENARIOS_DIR, help=f"(default {SCENARIOS_DIR})"
    )
    listing.set_defaults(handler=_list)


def _run(arguments: argparse.Namespace) -> int:
    failed = 0
    for path in arguments.scenarios:
        scenario = load_scenario(path)
        print(f"running {scenario.name} ({scenario.duration_s:.0f} s of faults) ...", flush=True)
        report = run_scenario(scenario, work_dir=arguments.keep)
        json_path, _ = report.write(arguments.out)
        print(format_summary(report))
        print(f"report: {json_path}")
        failed += not report.is_ok
    return 1 if failed else 0


def _list(arguments: argparse.Namespace) -> int:
    for path in sorted(arguments.dir.glob("*.toml")):
        scenario = load_scenario(path)
        print(f"{path.name:<32} {scenario.description}")
    return 0
