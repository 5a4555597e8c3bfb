"""The replica's log, written off the event loop, and the messages held back until it is on disk.

PBFT's safety on restart rests on one rule: what a replica signed is durable
before anyone sees it. Writing each Persist synchronously on the event loop
kept that rule but stalled every other input for an fsync (several per block,
milliseconds each when four nodes share a disk). Here a Persist is handed to
one writer thread (plyvel releases the GIL while LevelDB writes) and every
message the replica sends afterwards waits in a FIFO until the writes issued
before it are synced. Messages sent while nothing is being written go out at
once. Persists that arrive while a write is in flight are merged into the next
synced batch (group commit), so a busy replica pays one fsync per round trip
to the disk, not one per Persist.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor

import structlog

from storage.consensus_log import ConsensusLogStore

log = structlog.get_logger("hubledger.node")

LogChange = tuple[Sequence[tuple[bytes, bytes]], Sequence[bytes]]  # (puts, deletes)


class ConsensusLogWriter:
    def __init__(self, store: ConsensusLogStore, *, on_failure: Callable[[str], None] | None = None) -> None:
        self._store = store
        self._on_failure = on_failure  # told why, once: the node must stop, it cannot keep its word
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="consensus-log")
        self._waiting: list[LogChange] = []
        self._issued = 0  # Persists handed in so far
        self._durable = 0  # of those, how many are synced
        self._writing: asyncio.Future[None] | None = None
        self._held: deque[tuple[int, Callable[[], None]]] = deque()
        self._failed = False

    @property
    def held_count(self) -> int:
        return len(self._held)

    def persist(self, puts: Sequence[tuple[bytes, bytes]], deletes: Sequence[bytes]) -> None:
        """Write these entries durably, soon; sends issued from now on wait for them."""
        if not puts and not deletes:
            return
        self._waiting.append((puts, deletes))
        self._issued += 1
        if self._writing is None:
            self._start_write()

    def send_when_durable(self, send: Callable[[], None]) -> None:
        """Run ``send`` now if every Persist so far is on disk, else once it is (in order)."""
        if self._durable == self._issued and not self._held:
            send()
        else:
            self._held.append((self._issued, send))

    async def drain(self) -> None:
        """Wait until everything handed in is written (or a write failed); then stop the thread."""
        while self._writing is not None:
            await asyncio.wait({self._writing})
            await asyncio.sleep(0)  # let the write's done-callback run
        self._executor.shutdown(wait=True)

    def _start_write(self) -> None:
        if self._failed:
            return
        changes, self._waiting = self._waiting, []
        target = self._issued
        loop = asyncio.get_running_loop()
        future = loop.run_in_executor(self._executor, self._store.write, changes)
        self._writing = future
        future.add_done_callback(lambda done: self._on_written(done, target))

    def _on_written(self, done: asyncio.Future[None], target: int) -> None:
        self._writing = None
        error = done.exception() if not done.cancelled() else asyncio.CancelledError()
        if error is not None:
            # Nothing after this Persist may be sent: the replica could not keep its word on restart.
            self._failed = True
            log.error("consensus_log_write_failed", reason=str(error), held=len(self._held))
            if self._on_failure is not None:
                self._on_failure(str(error))
            return
        self._durable = target
        while self._held and self._held[0][0] <= self._durable:
            _, send = self._held.popleft()
            send()
        if self._waiting:
            self._start_write()
