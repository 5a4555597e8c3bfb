"""A whole bench run: start or find the nodes, set up senders, pre-sign, offer, follow, summarize."""

from __future__ import annotations

import asyncio
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp

from hubledger_tools.bench.catch_up import measure_catch_up, stop_lagging_hub
from hubledger_tools.bench.cluster import Cluster, connect_cluster, start_cluster
from hubledger_tools.bench.follow import BlockFollower
from hubledger_tools.bench.machine import compute_efficiency, describe_machine, measure_verify_rate
from hubledger_tools.bench.offer import Offerer
from hubledger_tools.bench.procfs import NodeUsage, read_own_cpu_s
from hubledger_tools.bench.progress import sample_and_report
from hubledger_tools.bench.senders import register_senders
from hubledger_tools.bench.settings import BenchSettings
from hubledger_tools.bench.summary import (
    Step,
    compute_percentile,
    is_saturated,
    summarize_blocks,
    summarize_latency,
    summarize_step,
)
from hubledger_tools.bench.timeline import Timeline
from hubledger_tools.bench.workload import Workload, make_senders, sign_workload
from hubledger_tools.wan.delays import describe_round_trips

DRAIN_POLL_S = 0.1
RAMP_WARMUP_S_MAX = 2.0


def run_bench(settings: BenchSettings) -> dict[str, Any]:
    """Run the benchmark described by ``settings`` and return the full result document."""
    machine = describe_machine()
    say(settings, f"measuring single-core ECDSA P-256 verification on {machine['cores']} cores ...")
    verify_per_s = measure_verify_rate()
    directory = settings.network_dir or Path(tempfile.mkdtemp(prefix="hubledger-bench-"))
    if settings.node_urls:
        cluster = connect_cluster(list(settings.node_urls), directory)
    else:
        say(settings, f"starting {len(settings.hubs)} hubs in {directory} ...")
        cluster = start_cluster(
            list(settings.hubs), directory, cprofile_hub=settings.cprofile_hub, layout=settings.layout
        )
    try:
        senders = make_senders(settings.senders)
        count = settings.count_transactions()
        say(
            settings,
            f"signing {count} transfers from {len(senders)} senders "
            f"in {settings.sign_processes} processes ...",
        )
        signing_started_s = time.monotonic()
        workload = sign_workload(
            senders, chain_id=cluster.genesis.chain_id, count=count, processes=settings.sign_processes
        )
        signing_s = time.monotonic() - signing_started_s
        measured = asyncio.run(_measure(settings, cluster, senders, workload))
        measured["views_after"] = cluster.get_views()
    finally:
        cluster.stop()
        if settings.network_dir is None and not settings.keep and not cluster.profiles:
            shutil.rmtree(directory, ignore_errors=True)
    machine["load_average_after"] = list(os.getloadavg())
    committed_per_s = float(measured["sustained"]["committed_per_s"])
    # The ceiling and efficiency come from the rate as reported, so the printed sum adds up.
    verify_per_s = round(verify_per_s)
    return {
        "format": "hubledger-bench/1",
        "started_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "machine": machine,
        "settings": _describe_settings(settings, cluster),
        "signing": {"transactions": count, "seconds": round(signing_s, 2), "per_s": round(count / signing_s)},
        "verification": {
            "per_s_per_core": verify_per_s,
            "ceiling_per_s": round(machine["cores"] * verify_per_s / len(cluster.hubs)),
            "efficiency": round(
                compute_efficiency(committed_per_s, machine["cores"], verify_per_s, len(cluster.hubs)), 4
            ),
        },
        **measured,
        "network_dir": str(directory) if settings.keep or settings.network_dir or cluster.profiles else None,
        "profiles": {hub: str(path) for hub, path in cluster.profiles.items()},
    }


async def _measure(
    settings: BenchSettings, cluster: Cluster, senders: list[Any], workload: Workload
) -> dict[str, Any]:
    timeline = Timeline.create(workload.ids)
    connector = aiohttp.TCPConnector(limit=0, limit_per_host=32, ssl=cluster.ssl_context)
    async with aiohttp.ClientSession(connector=connector) as session:
        say(settings, f"registering and funding {len(senders)} senders ...")
        await register_senders(session, cluster, senders)
        lagging = await stop_lagging_hub(session, cluster) if settings.catch_up else None
        catch_up: dict[str, Any] | None = None
        loaded_hubs = [hub for hub in cluster.hubs if lagging is None or hub != lagging.hub]
        observe_hub = settings.observe_hub or loaded_hubs[-1]
        follower = BlockFollower(session, cluster.urls[observe_hub], timeline)
        await follower.start_at_latest()
        usage = {hub: NodeUsage(pid) for hub, pid in cluster.pids.items()}
        if cluster.wan is not None and cluster.wan.relay is not None:
            usage["relay"] = NodeUsage(cluster.wan.relay.pid)  # carries every byte between the hubs
        for node in usage.values():
            node.restart_window()
        own_cpu_started_s = read_own_cpu_s()
        started_s = time.monotonic()
        background = [
            asyncio.ensure_future(follower.run()),
            asyncio.ensure_future(sample_and_report(timeline, usage, started_s, quiet=settings.quiet)),
        ]
        try:
            offerer = Offerer(
                session,
                [cluster.urls[hub] for hub in loaded_hubs],
                workload,
                timeline,
                tick_ms=settings.tick_ms,
            )
            steps = await _offer_all(settings, offerer, timeline, cluster)
            offered_until_s = time.monotonic()
            drained = await _drain(settings, timeline, cluster, offerer)
            await offerer.stop()
        finally:
            for task in background:
                task.cancel()
            await asyncio.gather(*background, return_exceptions=True)
        for node in usage.values():
            node.sample()
        bench_cpu_s = read_own_cpu_s() - own_cpu_started_s
        if lagging is not None:
            say(settings, f"starting {lagging.hub} again: timing its catch-up ...")
            catch_up = await measure_catch_up(session, cluster, lagging, observe_hub)
    summary = _summarize(
        settings,
        timeline,
        steps,
        usage,
        started_s,
        offered_until_s,
        drained,
        observe_hub,
        follower.errors,
        bench_cpu_s,
    )
    return {**summary, "catch_up": catch_up}


async def _offer_all(
    settings: BenchSettings, offerer: Offerer, timeline: Timeline, cluster: Cluster
) -> list[Step]:
    plan = (
        [(rate, settings.step_duration_s) for rate in settings.ramp_rates]
        if settings.is_ramp
        else [(settings.rate_per_s, settings.duration_s)]
    )
    steps = []
    for rate, duration_s in plan:
        first, started_s = timeline.offered, time.monotonic()
        await offerer.offer(rate, duration_s)
        steps.append(Step(rate, first, timeline.offered, started_s, time.monotonic()))
        cluster.check_alive()
        if settings.is_ramp and is_saturated(timeline, steps[-1], get_ramp_warmup_s(settings)):
            say(settings, f"saturated at {rate} tx/s offered: stopping the ramp")
            break
    return steps


async def _drain(settings: BenchSettings, timeline: Timeline, cluster: Cluster, offerer: Offerer) -> bool:
    """Wait up to ``drain_s`` for every transfer to be accepted (a BUSY one is offered again
    meanwhile) and for every accepted one to commit; whether all did."""
    deadline_s = time.monotonic() + settings.drain_s
    while offerer.in_flight or timeline.committed < timeline.accepted:
        if time.monotonic() > deadline_s:
            return False
        await asyncio.sleep(DRAIN_POLL_S)
        cluster.check_alive()
    return True


def _summarize(
    settings: BenchSettings,
    timeline: Timeline,
    steps: list[Step],
    usage: dict[str, NodeUsage],
    started_s: float,
    offered_until_s: float,
    drained: bool,
    observe_hub: str,
    follow_errors: int,
    bench_cpu_s: float,
) -> dict[str, Any]:
    warmup_s = get_ramp_warmup_s(settings) if settings.is_ramp else settings.warmup_s
    step_results = [summarize_step(timeline, step, warmup_s) for step in steps]
    kept_up = [
        result
        for step, result in zip(steps, step_results, strict=True)
        if result["committed_per_s"] >= 0.9 * step.rate_per_s
    ]
    sustained = max(kept_up, key=lambda result: result["committed_per_s"]) if kept_up else step_results[0]
    ended_s = max([offered_until_s] + [block.observed_s for block in timeline.blocks])
    return {
        "steps": step_results,
        "sustained": sustained,
        "peak_committed_per_s": max(result["committed_per_s"] for result in step_results),
        "latency": summarize_latency(timeline, 0, timeline.offered),
        "submissions": {
            "offered": timeline.offered,
            "outcomes": dict(timeline.outcomes),
            "committed": timeline.committed,
            "not_committed": timeline.offered - timeline.committed,
            "drained": drained,
            "request_round_trip_ms_p50": _round_trip_ms(timeline, 0.5),
            "request_round_trip_ms_p99": _round_trip_ms(timeline, 0.99),
        },
        "blocks": summarize_blocks(timeline, started_s, ended_s),
        "observed_hub": observe_hub,
        "follow_errors": follow_errors,
        "nodes": {hub: node.to_json() for hub, node in usage.items()},
        "bench_process_cpu_seconds": round(bench_cpu_s, 2),
        "elapsed_s": round(ended_s - started_s, 2),
    }


def get_ramp_warmup_s(settings: BenchSettings) -> float:
    """Seconds at the start of a ramp step not counted: the pipeline fills at the new rate."""
    return min(RAMP_WARMUP_S_MAX, settings.step_duration_s / 5)


def _round_trip_ms(timeline: Timeline, fraction: float) -> float:
    return round(1000 * compute_percentile(sorted(timeline.request_round_trips_s), fraction), 1)


def _describe_settings(settings: BenchSettings, cluster: Cluster) -> dict[str, Any]:
    return {
        "hubs": cluster.hubs,
        "validators": len(cluster.hubs),
        "started_network": not settings.node_urls,
        "mode": "ramp" if settings.is_ramp else "fixed",
        "rate_per_s": None if settings.is_ramp else settings.rate_per_s,
        "duration_s": None if settings.is_ramp else settings.duration_s,
        "ramp_rates": list(settings.ramp_rates),
        "step_duration_s": settings.step_duration_s if settings.is_ramp else None,
        "warmup_s": settings.warmup_s,
        "senders": settings.senders,
        "tick_ms": settings.tick_ms,
        "cprofile_hub": settings.cprofile_hub,
        "catch_up": settings.catch_up,
        "layout": settings.layout,
        "round_trips_ms": describe_round_trips(cluster.hubs) if settings.layout == "wan" else None,
    }


def say(settings: BenchSettings, text: str) -> None:
    if not settings.quiet:
        print(text, file=sys.stderr, flush=True)
