"""Time a wiped hub's join of a long chain: from a certified snapshot against by replay.

    .venv/bin/python -m scripts.join_bench --transfers 100000 --runs 3 --out join-result.json

Builds a certified chain of ``--transfers`` transfers (after ``--accounts`` account
registrations) straight into four hubs' stores, starts the network from them, and
times the last hub's join after its data is deleted, interleaving the two ways
(hubledger_tools/bench/join.py). Prints each run, the medians and their ratio.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

from hubledger_tools.bench.join import run_join_bench


def parse_arguments(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m scripts.join_bench", description=__doc__.splitlines()[0])
    parser.add_argument("--transfers", type=int, default=100_000, help="CBDC transfers in the chain")
    parser.add_argument(
        "--accounts", type=int, default=None, help="institutions registered first (default: transfers / 10)"
    )
    parser.add_argument("--runs", type=int, default=3, help="joins timed of each kind, interleaved")
    parser.add_argument(
        "--dir", type=Path, default=None, help="an empty directory (default: a temporary one)"
    )
    parser.add_argument("--out", type=Path, default=None, help="write the report as JSON here")
    arguments = parser.parse_args(argv)
    if arguments.transfers < 1 or arguments.runs < 1:
        parser.error("--transfers and --runs must be at least 1")
    if arguments.accounts is None:
        arguments.accounts = max(1, arguments.transfers // 10)
    if arguments.accounts < 0:
        parser.error("--accounts must not be negative")
    return arguments


def main(argv: list[str]) -> int:
    arguments = parse_arguments(argv)
    directory = arguments.dir or Path(tempfile.mkdtemp(prefix="hubledger-join-"))
    report = run_join_bench(
        directory, transfers=arguments.transfers, accounts=arguments.accounts, runs=arguments.runs
    )
    summary = report.to_json()
    print(
        f"median join of {report.height} blocks: snapshot {summary['median_seconds']['snapshot']:.2f} s, "
        f"replay {summary['median_seconds']['replay']:.2f} s: {report.ratio:.1f}x faster from a snapshot"
    )
    if arguments.out is not None:
        arguments.out.write_text(json.dumps(summary, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
