"""One line a second while the load runs: what was offered, what committed, and how busy the nodes are."""

from __future__ import annotations

import asyncio
import sys
import time

from hubledger_tools.bench.procfs import NodeUsage
from hubledger_tools.bench.summary import compute_percentile
from hubledger_tools.bench.timeline import Block, Timeline

PERIOD_S = 1.0


async def sample_and_report(
    timeline: Timeline, usage: dict[str, NodeUsage], started_s: float, *, quiet: bool
) -> None:
    """Sample node CPU and memory every second and print a progress line (unless ``quiet``)."""
    offered, committed, blocks_seen = timeline.offered, timeline.committed, len(timeline.blocks)
    while True:
        await asyncio.sleep(PERIOD_S)
        for node in usage.values():
            node.sample()
        now_s = time.monotonic()
        new_blocks = timeline.blocks[blocks_seen:]
        if not quiet:
            print(
                _format_line(
                    timeline,
                    usage,
                    now_s - started_s,
                    timeline.offered - offered,
                    timeline.committed - committed,
                    new_blocks,
                    now_s,
                ),
                file=sys.stderr,
                flush=True,
            )
        offered, committed, blocks_seen = timeline.offered, timeline.committed, len(timeline.blocks)


def _format_line(
    timeline: Timeline,
    usage: dict[str, NodeUsage],
    elapsed_s: float,
    offered: int,
    committed: int,
    new_blocks: list[Block],
    now_s: float,
) -> str:
    height = timeline.blocks[-1].height if timeline.blocks else 0
    recent = sorted(
        1000 * (timeline.committed_s[p] - timeline.submitted_s[p])
        for p in _recent_positions(timeline, now_s - PERIOD_S)
    )
    cpu = " ".join(
        f"{hub[:3]} {node.cpu_percent_series[-1]:3.0f}%"
        for hub, node in usage.items()
        if node.cpu_percent_series
    )
    return (
        f"{elapsed_s:6.1f}s  offered {offered:5d}/s  committed {committed:5d}/s  "
        f"backlog {timeline.offered - timeline.committed:6d}  height {height:5d} (+{len(new_blocks)})  "
        f"p50 {compute_percentile(recent, 0.5):6.0f} ms  "
        f"p99 {compute_percentile(recent, 0.99):6.0f} ms  {cpu}"
    )


def _recent_positions(timeline: Timeline, since_s: float) -> list[int]:
    """Positions committed in blocks seen since ``since_s`` (scanning back from the newest block)."""
    heights = {block.observed_s for block in timeline.blocks[-50:] if block.observed_s >= since_s}
    if not heights:
        return []
    start = max(0, timeline.offered - 20_000)
    return [p for p in range(start, timeline.offered) if timeline.committed_s[p] in heights]
