"""The result for people (a table) and for later runs (JSON, and a comparison with an older run)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from node.errors import ConfigError

MIB = 1024 * 1024
COMPARED = (  # label, path into the result, whether higher is better
    ("sustained committed tx/s", ("sustained", "committed_per_s"), True),
    ("peak committed tx/s", ("peak_committed_per_s",), True),
    ("sustained p50 latency ms", ("sustained", "latency", "p50_ms"), False),
    ("sustained p99 latency ms", ("sustained", "latency", "p99_ms"), False),
    ("all-run p99 latency ms", ("latency", "p99_ms"), False),
    ("efficiency vs signatures", ("verification", "efficiency"), True),
    ("verifications/s/core", ("verification", "per_s_per_core"), True),
    ("transactions per block", ("blocks", "transactions_mean"), True),
)


def format_table(result: dict[str, Any]) -> str:
    settings, machine = result["settings"], result["machine"]
    lines = [
        f"HubLedger bench: {settings['validators']} hubs ({', '.join(settings['hubs'])}), "
        f"{_describe_load(settings)}",
        f"machine: {machine['cores']} cores, {machine['memory_bytes'] / 1024 / MIB:.1f} GiB, "
        f"Python {machine['python']}, revision {machine['revision']}, load average "
        f"{machine['load_average'][0]:.2f} before, {machine['load_average_after'][0]:.2f} after",
        _describe_layout(result),
        "",
        f"{'offered/s':>10} {'committed/s':>12} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8} "
        f"{'max ms':>8} {'committed':>10}",
    ]
    for step in result["steps"]:
        latency = step["latency"]
        lines.append(
            f"{step['offered_per_s']:>10} {step['committed_per_s']:>12.1f} {latency['p50_ms']:>8.1f} "
            f"{latency['p95_ms']:>8.1f} {latency['p99_ms']:>8.1f} {latency['max_ms']:>8.1f} "
            f"{latency['committed']:>5}/{latency['offered']:<5}"
        )
    submissions, blocks, verification = result["submissions"], result["blocks"], result["verification"]
    lines += [
        "",
        f"sustained: {result['sustained']['committed_per_s']:.1f} tx/s committed "
        f"(at {result['sustained']['offered_per_s']} offered); "
        f"peak {result['peak_committed_per_s']:.1f} tx/s",
        f"submissions: {submissions['offered']} offered, {submissions['committed']} committed, "
        f"outcomes {submissions['outcomes']}, {'drained' if submissions['drained'] else 'NOT drained'}; "
        f"batch round trip p50 {submissions['request_round_trip_ms_p50']} ms, "
        f"p99 {submissions['request_round_trip_ms_p99']} ms",
        f"blocks: {blocks['count']}, transactions per block mean {blocks['transactions_mean']}, "
        f"max {blocks['transactions_max']:.0f}; interval p50 {blocks['interval_ms_p50']:.0f} ms; "
        f"largest block {blocks['json_bytes_max'] / 1024:.0f} KiB as JSON",
        f"signature ceiling: {verification['per_s_per_core']:,} verifications/s/core"
        f" x {machine['cores']} cores"
        f" / {settings['validators']} validators = {verification['ceiling_per_s']:,} tx/s; "
        f"efficiency {100 * verification['efficiency']:.1f} %",
        *_format_catch_up(result.get("catch_up")),
        "",
        f"{'node':<12} {'cpu mean %':>10} {'cpu max %':>10} {'rss MiB':>8} {'peak MiB':>9}",
    ]
    for hub, node in result["nodes"].items():
        if node.get("measured"):
            lines.append(
                f"{hub:<12} {node['cpu_percent_mean']:>10.1f} {node['cpu_percent_max']:>10.1f} "
                f"{node['rss_bytes_last'] / MIB:>8.1f} {node['vm_hwm_bytes'] / MIB:>9.1f}"
            )
    if not result["nodes"]:
        lines.append("(nodes not started by this run: CPU and memory not measured)")
    lines.append(
        f"bench process: {result['bench_process_cpu_seconds']} CPU seconds in {result['elapsed_s']} s"
    )
    for hub, path in result.get("profiles", {}).items():
        lines.append(f"cProfile of {hub}: {path} (read it with python -m pstats)")
    return "\n".join(lines)


def _describe_layout(result: dict[str, Any]) -> str:
    """Where the hubs ran and whether any view changed (results from before layouts say nothing)."""
    settings = result["settings"]
    views = result.get("views_after") or {}
    changed = "no view change" if not any(views.values()) else f"views after the run: {views}"
    if settings.get("layout") == "wan":
        trips = ", ".join(f"{pair} {ms} ms" for pair, ms in settings["round_trips_ms"].items())
        return f"layout: wan, one network namespace per hub, round trips {trips}; {changed}"
    return f"layout: loopback (127.0.0.1); {changed}"


def _describe_load(settings: dict[str, Any]) -> str:
    if settings["mode"] == "ramp":
        rates = ", ".join(str(rate) for rate in settings["ramp_rates"])
        return f"ramp {rates} tx/s, {settings['step_duration_s']} s a step"
    return f"{settings['rate_per_s']} tx/s for {settings['duration_s']} s"


def write_result(result: dict[str, Any], path: Path) -> None:
    path.write_text(json.dumps(result, indent=2, sort_keys=False) + "\n")


def load_result(path: Path) -> dict[str, Any]:
    try:
        document = json.loads(path.read_text())
    except (OSError, ValueError, RecursionError) as error:
        raise ConfigError(f"--compare {path}: cannot read a bench result: {error}") from None
    if not isinstance(document, dict) or document.get("format") != "hubledger-bench/1":
        raise ConfigError(f"--compare {path}: not a hubledger bench result")
    return document


def format_comparison(old: dict[str, Any], new: dict[str, Any]) -> str:
    lines = [
        f"compared with {old.get('started_at', '?')} (revision {old['machine'].get('revision', '?')}):",
        f"{'':<28} {'old':>12} {'new':>12} {'change':>9}",
    ]
    for label, path, higher_is_better in COMPARED:
        before, after = _get(old, path), _get(new, path)
        if before is None or after is None:
            continue
        change = (after - before) / before * 100 if before else 0.0
        better = (change > 0) == higher_is_better
        mark = "" if abs(change) < 5 else (" better" if better else " worse")
        lines.append(f"{label:<28} {before:>12,.1f} {after:>12,.1f} {change:>+8.1f}%{mark}")
    for hub in new.get("nodes", {}):
        before = _get(old, ("nodes", hub, "vm_hwm_bytes"))
        after = _get(new, ("nodes", hub, "vm_hwm_bytes"))
        if before and after:
            lines.append(
                f"{'peak MiB ' + hub:<28} {before / MIB:>12,.1f} {after / MIB:>12,.1f} "
                f"{(after - before) / before * 100:>+8.1f}%"
            )
    return "\n".join(lines)


def _get(document: dict[str, Any], path: tuple[str, ...]) -> float | None:
    value: Any = document
    for key in path:
        if not isinstance(value, dict) or key not in value:
            return None
        value = value[key]
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def _format_catch_up(catch_up: dict[str, Any] | None) -> list[str]:
    if not catch_up:
        return []
    return [
        f"catch-up: {catch_up['hub']} replayed blocks {catch_up['from_height'] + 1}-{catch_up['to_height']}"
        f" ({catch_up['transactions']} transactions) in {catch_up['seconds_replaying']} s once serving"
        f" ({catch_up['seconds_from_start']} s from its process start):"
        f" {catch_up['transactions_per_s']:,.0f} tx/s"
    ]
