"""A progress bar on stderr for long audit runs.

Redrawn in place on a terminal; on anything else, one line now and then.
"""

from __future__ import annotations

import sys
import time
from typing import TextIO

BAR_WIDTH = 30
PLAIN_INTERVAL_S = 2.0


class Progress:
    def __init__(self, total: int, what: str, *, stream: TextIO | None = None) -> None:
        self._total = max(total, 1)
        self._what = what
        self._stream = stream if stream is not None else sys.stderr
        self._is_terminal = self._stream.isatty()
        self._started_s = time.monotonic()
        self._shown_s = 0.0
        self._shown_done = -1
        self.done = 0

    def advance(self, count: int = 1) -> None:
        self.done += count
        now_s = time.monotonic()
        interval_s = 0.1 if self._is_terminal else PLAIN_INTERVAL_S
        if now_s - self._shown_s >= interval_s or self.done >= self._total:
            self._shown_s = now_s
            self._show(now_s)

    def finish(self) -> None:
        if self._shown_done != self.done:
            self._show(time.monotonic())
        if self._is_terminal:
            self._stream.write("\n")
        self._stream.flush()

    def _show(self, now_s: float) -> None:
        self._shown_done = self.done
        filled = BAR_WIDTH * min(self.done, self._total) // self._total
        elapsed_s = now_s - self._started_s
        rate = self.done / elapsed_s if elapsed_s > 0 else 0.0
        text = (
            f"[{'#' * filled}{'.' * (BAR_WIDTH - filled)}] {self.done}/{self._total} {self._what}"
            f" ({rate:.0f}/s, {elapsed_s:.1f} s)"
        )
        if self._is_terminal:
            self._stream.write("\r" + text)
        else:
            self._stream.write(text + "\n")
        self._stream.flush()
