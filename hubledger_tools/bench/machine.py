"""The machine a run measured: cores, memory, Python, load, and its signature-verification ceiling."""

from __future__ import annotations

import os
import platform
import subprocess
import time
from pathlib import Path
from typing import Any

from ledger.keys import PrivateKey, verify_signature

VERIFY_SECONDS_DEFAULT = 1.0
_MESSAGE = b"hubledger/bench verification rate " + bytes(64)


def describe_machine() -> dict[str, Any]:
    return {
        "cores": os.cpu_count() or 1,
        "memory_bytes": get_memory_total_bytes(),
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "platform": platform.platform(),
        "load_average": list(os.getloadavg()),
        "revision": get_revision(),
    }


def get_memory_total_bytes() -> int:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def get_revision() -> str:
    """The git commit of the code under test, with ``+dirty`` when the tree has local changes."""
    root = Path(__file__).resolve().parents[2]
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=root, capture_output=True, text=True, timeout=5
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=root,
            capture_output=True,
            text=True,
            timeout=5,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return f"{commit}+dirty" if commit and dirty else commit or "unknown"


def measure_verify_rate(seconds: float = VERIFY_SECONDS_DEFAULT) -> float:
    """Single-core ECDSA P-256 verifications per second through ``ledger.keys.verify_signature``.

    The same call every node makes per transaction signature, with the key's
    decompression cached as it is in a node.
    """
    key = PrivateKey.generate()
    public_key = key.public_key.data
    signature = key.sign(_MESSAGE)
    if not verify_signature(public_key, _MESSAGE, signature):
        raise RuntimeError("a freshly made signature does not verify; the crypto backend is broken")
    count = 0
    started = time.perf_counter()
    deadline = started + seconds
    now = started
    while now < deadline:
        for _ in range(100):
            verify_signature(public_key, _MESSAGE, signature)
        count += 100
        now = time.perf_counter()
    return count / (now - started)


def compute_efficiency(committed_per_s: float, cores: int, verify_per_s: float, validators: int) -> float:
    """Committed tx/s over the ceiling set by signatures alone: cores x verifications/s / validators."""
    ceiling = cores * verify_per_s / max(1, validators)
    return committed_per_s / ceiling if ceiling > 0 else 0.0
