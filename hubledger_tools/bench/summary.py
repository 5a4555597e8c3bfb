"""Rates, latency percentiles and block sizes computed from a Timeline."""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from typing import Any

from hubledger_tools.bench.timeline import NOT_YET, Timeline


@dataclass(frozen=True)
class Step:
    """One stretch of constant offered rate: transfers [first, last) offered in [started_s, ended_s)."""

    rate_per_s: int
    first: int
    last: int
    started_s: float
    ended_s: float


def compute_percentile(sorted_values: list[float], fraction: float) -> float:
    """Nearest-rank percentile of already sorted values (0.0 for none)."""
    if not sorted_values:
        return 0.0
    rank = max(1, math.ceil(fraction * len(sorted_values)))
    return sorted_values[min(rank, len(sorted_values)) - 1]


def summarize_latency(timeline: Timeline, first: int, last: int) -> dict[str, Any]:
    """Submission-to-commit latency of transfers [first, last), in milliseconds."""
    latencies_ms = sorted(
        1000 * (timeline.committed_s[position] - timeline.submitted_s[position])
        for position in range(first, last)
        if timeline.committed_s[position] != NOT_YET and timeline.submitted_s[position] != NOT_YET
    )
    return {
        "offered": last - first,
        "committed": len(latencies_ms),
        "p50_ms": round(compute_percentile(latencies_ms, 0.50), 1),
        "p95_ms": round(compute_percentile(latencies_ms, 0.95), 1),
        "p99_ms": round(compute_percentile(latencies_ms, 0.99), 1),
        "max_ms": round(latencies_ms[-1], 1) if latencies_ms else 0.0,
        "mean_ms": round(sum(latencies_ms) / len(latencies_ms), 1) if latencies_ms else 0.0,
    }


def count_committed_between(timeline: Timeline, start_s: float, end_s: float) -> int:
    """Transactions (of this run or not) in blocks observed in [start_s, end_s)."""
    return sum(block.transaction_count for block in timeline.blocks if start_s <= block.observed_s < end_s)


def summarize_step(timeline: Timeline, step: Step, warmup_s: float = 0.0) -> dict[str, Any]:
    """Offered and committed rates over the step (after ``warmup_s``), and its transfers' latency."""
    window_start_s = step.started_s + min(warmup_s, (step.ended_s - step.started_s) / 2)
    window_s = max(1e-9, step.ended_s - window_start_s)
    committed = count_committed_between(timeline, window_start_s, step.ended_s)
    return {
        "offered_per_s": step.rate_per_s,
        "duration_s": round(step.ended_s - step.started_s, 2),
        "measured_window_s": round(window_s, 2),
        "committed_per_s": round(committed / window_s, 1),
        "latency": summarize_latency(timeline, step.first, step.last),
    }


def summarize_blocks(timeline: Timeline, start_s: float, end_s: float) -> dict[str, Any]:
    blocks = [block for block in timeline.blocks if start_s <= block.observed_s <= end_s]
    counts = sorted(float(block.transaction_count) for block in blocks)
    sizes = sorted(float(block.response_bytes) for block in blocks)
    intervals_ms = sorted(
        float(later.timestamp_ms - earlier.timestamp_ms) for earlier, later in itertools.pairwise(blocks)
    )
    return {
        "count": len(blocks),
        "transactions_mean": round(sum(counts) / len(counts), 1) if counts else 0.0,
        "transactions_p50": compute_percentile(counts, 0.5),
        "transactions_max": counts[-1] if counts else 0,
        "json_bytes_max": int(sizes[-1]) if sizes else 0,
        "interval_ms_p50": compute_percentile(intervals_ms, 0.5),
        "interval_ms_max": intervals_ms[-1] if intervals_ms else 0.0,
    }


def is_saturated(timeline: Timeline, step: Step, warmup_s: float, backlog_s_max: float = 2.0) -> bool:
    """The network did not keep up: under 90 % of the offered rate committed after the warm-up,
    or more than ``backlog_s_max`` seconds of offered transfers still waiting at the end."""
    window_start_s = step.started_s + min(warmup_s, (step.ended_s - step.started_s) / 2)
    window_s = max(1e-9, step.ended_s - window_start_s)
    committed = count_committed_between(timeline, window_start_s, step.ended_s)
    backlog = timeline.offered - timeline.committed
    return committed / window_s < 0.9 * step.rate_per_s or backlog > backlog_s_max * step.rate_per_s
