"""CPU time and memory of node processes, read from /proc (Linux only; empty elsewhere)."""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

_TICKS_PER_S = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


@dataclass
class ProcessSample:
    cpu_s: float  # user + system
    rss_bytes: int
    hwm_bytes: int  # peak resident set since the process started


def read_process(pid: int) -> ProcessSample | None:
    """None when the process is gone or /proc is not there."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return None
    # The command name may hold spaces and parentheses: fields start after the last ')'.
    fields = stat[stat.rindex(")") + 2 :].split()
    cpu_s = (int(fields[11]) + int(fields[12])) / _TICKS_PER_S
    memory = {}
    for line in status.splitlines():
        name, _, value = line.partition(":")
        if name in ("VmRSS", "VmHWM"):
            memory[name] = int(value.split()[0]) * 1024
    return ProcessSample(cpu_s, memory.get("VmRSS", 0), memory.get("VmHWM", 0))


def read_own_cpu_s() -> float:
    times = os.times()
    return times.user + times.system + times.children_user + times.children_system


@dataclass
class NodeUsage:
    """CPU and memory of one node over a measured window."""

    pid: int
    first: ProcessSample | None = None
    last: ProcessSample | None = None
    first_at_s: float = 0.0
    last_at_s: float = 0.0
    rss_peak_bytes: int = 0
    cpu_percent_series: list[float] = field(default_factory=list)

    def sample(self) -> None:
        now = time.monotonic()
        sample = read_process(self.pid)
        if sample is None:
            return
        if self.last is not None and now > self.last_at_s:
            self.cpu_percent_series.append(100 * (sample.cpu_s - self.last.cpu_s) / (now - self.last_at_s))
        if self.first is None:
            self.first, self.first_at_s = sample, now
        self.last, self.last_at_s = sample, now
        self.rss_peak_bytes = max(self.rss_peak_bytes, sample.rss_bytes)

    def restart_window(self) -> None:
        """Count CPU from now on (after set-up and pre-signing)."""
        self.first = None
        self.cpu_percent_series.clear()
        self.sample()

    def to_json(self) -> dict[str, Any]:
        if self.first is None or self.last is None:
            return {"pid": self.pid, "measured": False}
        elapsed_s = max(1e-9, self.last_at_s - self.first_at_s)
        cpu_s = self.last.cpu_s - self.first.cpu_s
        return {
            "pid": self.pid,
            "measured": True,
            "cpu_seconds": round(cpu_s, 3),
            "cpu_percent_mean": round(100 * cpu_s / elapsed_s, 1),
            "cpu_percent_max": round(max(self.cpu_percent_series, default=0.0), 1),
            "rss_bytes_last": self.last.rss_bytes,
            "rss_bytes_peak_sampled": self.rss_peak_bytes,
            "vm_hwm_bytes": self.last.hwm_bytes,
        }
