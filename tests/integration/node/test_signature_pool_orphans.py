"""A SIGKILLed process leaves no signature-pool worker behind (node/signature_pool.py)."""

from __future__ import annotations

import os
import select
import signal
import subprocess
import sys
from pathlib import Path

from tests.integration.harness import wait_for

REPOSITORY = Path(__file__).resolve().parents[3]
DEADLINE_S = 30.0


def get_children(pid: int) -> set[int]:
    children = set()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue  # it ended while we looked
            if int(fields[1]) == pid:
                children.add(int(entry.name))
    return children


def is_running(pid: int) -> bool:
    """Alive and not a zombie (a zombie holds no memory; reaping it is its new parent's job)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def test_pool_workers_die_with_a_sigkilled_node() -> None:
    holder = subprocess.Popen(
        [sys.executable, "-m", "tests.integration.node.pool_holder"],
        cwd=REPOSITORY,
        env=dict(os.environ, PYTHONPATH=str(REPOSITORY)),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None
        readable, _, _ = select.select([holder.stdout], [], [], DEADLINE_S)
        assert readable, f"the pool holder did not get ready within {DEADLINE_S} s"
        assert holder.stdout.readline().strip() == "ready"  # the pool has checked a batch
        workers = wait_for(
            lambda: get_children(holder.pid) if len(get_children(holder.pid)) >= 2 else None,
            timeout_s=DEADLINE_S,
            what="the pool's worker processes",
        )
        holder.send_signal(signal.SIGKILL)
        holder.wait(timeout=DEADLINE_S)
        wait_for(
            lambda: not any(is_running(pid) for pid in workers),
            timeout_s=DEADLINE_S,
            what=f"the pool's processes {sorted(workers)} to end after their node was killed",
        )
    finally:
        if holder.poll() is None:
            holder.kill()
            holder.wait()
