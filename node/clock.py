"""The node's one source of wall-clock time, in integer milliseconds."""

import time


def now_ms() -> int:
    return time.time_ns() // 1_000_000


def monotonic_ms() -> int:
    return time.monotonic_ns() // 1_000_000
