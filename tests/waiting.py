"""Waiting on a condition with a deadline, for asyncio tests: never a bare sleep."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

DEADLINE_S = 5.0


async def wait_until(predicate: Callable[[], bool], what: str, *, deadline_s: float = DEADLINE_S) -> None:
    """Return once ``predicate()`` holds; fail, naming ``what``, if it does not within ``deadline_s``."""
    loop = asyncio.get_running_loop()
    end = loop.time() + deadline_s
    while not predicate():
        if loop.time() > end:
            raise AssertionError(f"timed out after {deadline_s} s waiting for {what}")
        await asyncio.sleep(0.01)
