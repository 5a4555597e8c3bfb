"""``hubledger bench``: measure how fast a HubLedger network commits CBDC transfers.

By default it starts its own four-hub network on free ports, offers a fixed
rate for a fixed time, prints a table and, with ``--out``, writes the full
result as JSON (``--compare OLD.json`` shows what changed since an older run).
See docs/benchmarks.md for how to read the numbers.
"""

from __future__ import annotations

import argparse
import os
from typing import Any

from hubledger_tools.bench.settings import (
    LAYOUTS,
    RAMP_RATES_DEFAULT,
    RATE_MAX,
    SENDERS_MAX,
    BenchSettings,
    parse_hub_argument,
    parse_rates,
    validate_settings,
)
from hubledger_tools.cli import arguments as types

SENDERS_DEFAULT = 200
SECONDS_MAX = 24 * 3600.0
HUBS = types.checked_by(parse_hub_argument)
RATES = types.checked_by(parse_rates)
RATE = types.WholeNumber(1, RATE_MAX, "a rate in transfers a second")
SENDERS = types.WholeNumber(1, SENDERS_MAX, "a number of senders")
TICK_MS = types.WholeNumber(5, 1000, "a period in ms")
SIGN_PROCESSES = types.WholeNumber(1, 256, "a number of processes")
DURATION = types.Seconds(0.001, SECONDS_MAX)
WARMUP = types.Seconds(0.0, SECONDS_MAX)


def add_bench_command(commands: Any) -> None:
    """Register ``bench`` on the ``hubledger`` subcommand parser."""
    bench = commands.add_parser("bench", help="benchmark a network with CBDC transfers")
    target = bench.add_argument_group("the network")
    target.add_argument(
        "--hubs", type=HUBS, default="4", help="how many hubs to start, or their names (default 4)"
    )
    target.add_argument(
        "--nodes",
        type=types.node_urls,
        default=(),
        help="comma-separated API URLs of a running network instead",
    )
    target.add_argument(
        "--network",
        type=types.output_directory,
        help="with --nodes: the network directory (accounts/ keys); "
        "otherwise: where to generate and keep the started network",
    )
    target.add_argument(
        "--observe",
        type=types.hub_name,
        help="hub whose blocks give commit times (default: the last one loaded)",
    )
    target.add_argument(
        "--cprofile",
        type=types.hub_name,
        metavar="HUB",
        help="run this hub under cProfile (kept with the network)",
    )
    target.add_argument("--keep", action="store_true", help="keep the generated network directory")
    target.add_argument(
        "--layout",
        choices=LAYOUTS,
        default="loopback",
        help="loopback: every hub on 127.0.0.1; wan: each hub in its own network namespace with "
        "inter-city round trips between them (needs root; see docs/benchmarks.md; default loopback)",
    )
    target.add_argument(
        "--catch-up",
        action="store_true",
        help="stop the last hub during the load, then time how fast it replays what it missed",
    )
    load = bench.add_argument_group("the load")
    load.add_argument("--rate", type=RATE, default=500, help="transfers offered per second (default 500)")
    load.add_argument("--duration", type=DURATION, default=20.0, help="seconds of load (default 20)")
    load.add_argument(
        "--warmup", type=WARMUP, help="seconds not counted in the rate (default: a fifth, up to 5)"
    )
    load.add_argument("--ramp", action="store_true", help="step the rate up until the network saturates")
    load.add_argument(
        "--ramp-rates",
        type=RATES,
        default=RAMP_RATES_DEFAULT,
        help=f"with --ramp: the rates to step through (default {','.join(map(str, RAMP_RATES_DEFAULT))})",
    )
    load.add_argument(
        "--step-duration", type=DURATION, default=10.0, help="seconds per ramp step (default 10)"
    )
    load.add_argument(
        "--drain",
        type=WARMUP,
        default=30.0,
        help="seconds to wait after the load for every transfer to be accepted and committed (default 30)",
    )
    load.add_argument(
        "--senders",
        type=SENDERS,
        default=SENDERS_DEFAULT,
        help=f"independent sender accounts (default {SENDERS_DEFAULT})",
    )
    load.add_argument("--tick-ms", type=TICK_MS, default=20, help="submission period per hub (default 20 ms)")
    load.add_argument(
        "--sign-processes", type=SIGN_PROCESSES, default=os.cpu_count() or 1, help="(default: one per core)"
    )
    output = bench.add_argument_group("the result")
    output.add_argument("--out", type=types.output_file, help="write the full result as JSON here")
    output.add_argument("--compare", type=types.existing_file, help="an earlier --out file to compare with")
    output.add_argument("--quiet", action="store_true", help="no progress lines")
    bench.set_defaults(handler=_bench)


def parse_settings(arguments: argparse.Namespace) -> BenchSettings:
    node_urls = arguments.nodes
    warmup_s = arguments.warmup if arguments.warmup is not None else min(5.0, arguments.duration / 5)
    settings = BenchSettings(
        hubs=() if node_urls else arguments.hubs,
        node_urls=node_urls,
        network_dir=arguments.network,
        rate_per_s=arguments.rate,
        duration_s=arguments.duration,
        ramp_rates=arguments.ramp_rates if arguments.ramp else (),
        step_duration_s=arguments.step_duration,
        warmup_s=warmup_s,
        drain_s=arguments.drain,
        senders=arguments.senders,
        tick_ms=arguments.tick_ms,
        sign_processes=arguments.sign_processes,
        observe_hub=arguments.observe,
        out=arguments.out,
        compare=arguments.compare,
        cprofile_hub=arguments.cprofile,
        keep=arguments.keep,
        quiet=arguments.quiet,
        catch_up=arguments.catch_up,
        layout=arguments.layout,
    )
    validate_settings(settings)
    return settings


def _bench(arguments: argparse.Namespace) -> int:
    from hubledger_tools.bench.cluster import ClusterError
    from hubledger_tools.bench.report import format_comparison, format_table, load_result, write_result
    from hubledger_tools.bench.run import run_bench
    from hubledger_tools.ports import NoFreePortsError
    from node.errors import ConfigError

    settings = parse_settings(arguments)
    old = load_result(settings.compare) if settings.compare else None
    if settings.network_dir and not settings.node_urls and (settings.network_dir / "genesis.json").exists():
        raise ConfigError(f"--network {settings.network_dir} already holds a network; name a new directory")
    try:
        result = run_bench(settings)
    except (ClusterError, NoFreePortsError) as error:
        print(f"error: {error}")
        return 1
    print(format_table(result))
    if old is not None:
        print()
        print(format_comparison(old, result))
    if settings.out:
        write_result(result, settings.out)
        print(f"wrote {settings.out}")
    return 0
