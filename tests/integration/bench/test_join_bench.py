"""The join benchmark, short: both ways of joining a generated chain (from the peers' certified
snapshot, and by replaying every block) run and end on the same state. Which is faster, and by
how much, is the benchmark's to measure (scripts/join_bench.py, docs/benchmarks.md), not a
test's: at this size the two are within a second."""

from __future__ import annotations

from pathlib import Path

from hubledger_tools.bench.join import run_join_bench
from storage.chain import ChainStore
from storage.kv import LevelDBStore

TRANSFERS = 3_000  # a few snapshot intervals of blocks: enough for an offer to exist


def test_the_join_benchmark_runs_both_ways_and_they_end_on_the_same_state(tmp_path: Path) -> None:
    report = run_join_bench(tmp_path, transfers=TRANSFERS, accounts=300, runs=1, say=lambda _: None)
    snapshot = next(run for run in report.runs if run.mode == "snapshot")
    replay = next(run for run in report.runs if run.mode == "replay")
    assert snapshot.first_block_height == report.height + 1  # no block below the snapshot replayed
    assert replay.first_block_height == 1
    assert snapshot.seconds > 0 and replay.seconds > 0, report.to_json()
    roots = set()
    for hub in ("beijing", "hangzhou"):  # the network is stopped: the stores can be opened
        kv = LevelDBStore.open(tmp_path / "data" / hub)
        try:
            chain = ChainStore(kv)
            roots.add((chain.latest_height(), chain.state_tree.root))
        finally:
            kv.close()
    assert len(roots) == 1
