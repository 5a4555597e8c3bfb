"""The join benchmark, short: a wiped hub joins a generated chain of 15,000 transfers faster
from its peers' certified snapshot than by replaying every block (scripts/join_bench.py
runs the long versions: docs/benchmarks.md)."""

from __future__ import annotations

from pathlib import Path

from hubledger_tools.bench.join import run_join_bench
from storage.chain import ChainStore
from storage.kv import LevelDBStore

TRANSFERS = 15_000  # 5,000 left replay within a second of a snapshot join on an idle machine


def test_a_snapshot_join_is_faster_than_replay_and_ends_on_the_same_state(tmp_path: Path) -> None:
    report = run_join_bench(tmp_path, transfers=TRANSFERS, accounts=300, runs=1, say=lambda _: None)
    snapshot = next(run for run in report.runs if run.mode == "snapshot")
    replay = next(run for run in report.runs if run.mode == "replay")
    assert snapshot.first_block_height == report.height + 1  # no block below the snapshot replayed
    assert replay.first_block_height == 1
    assert snapshot.seconds < replay.seconds, report.to_json()
    roots = set()
    for hub in ("beijing", "hangzhou"):  # the network is stopped: the stores can be opened
        kv = LevelDBStore.open(tmp_path / "data" / hub)
        try:
            chain = ChainStore(kv)
            roots.add((chain.latest_height(), chain.state_tree.root))
        finally:
            kv.close()
    assert len(roots) == 1
