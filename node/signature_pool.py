"""Transaction signatures checked in worker processes, for batches worth a process hop.

The event loop verifies each transaction's signature once; during a replay of
fetched blocks that is a fifth of its time, while another core may sit idle.
The pool checks a batch there instead. Only the signatures that verified are
vouched for; the node's usual check on the loop finds and refuses any other.
The processes start on first use (spawned, so they share nothing with the loop's
threads) and never for a node that does not replay.

Workers die with their node, however it ends: each asks Linux, as it starts, to
be sent SIGKILL when the process that started it dies (PR_SET_PDEATHSIG), and
exits at once if that process is already gone. (Linux sends it when the thread
that started the worker ends: the pool is used, so its workers started, from the
event loop's thread, which lives as long as the node.) A SIGKILLed node used to
leave its workers running under init, about 40 MB each, more at every restart;
the resource tracker that multiprocessing starts beside them ends by itself once
the node and the workers are gone.
"""

from __future__ import annotations

import asyncio
import ctypes
import multiprocessing
import os
import signal
import sys
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor

from ledger.keys import verify_signature
from ledger.transaction import Transaction

BATCH_MIN = 64  # fewer signatures cost less to check here than to send away
Signed = tuple[bytes, bytes, bytes]  # public key, signed bytes, signature
PR_SET_PDEATHSIG = 1  # from <linux/prctl.h>


def die_with_parent(parent_pid: int) -> None:
    """Worker initializer: be killed when the node dies; exit now if it already has."""
    if sys.platform == "linux":
        libc = ctypes.CDLL(None, use_errno=True)
        if libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) != 0:
            raise OSError(ctypes.get_errno(), "prctl(PR_SET_PDEATHSIG) failed")
    if os.getppid() != parent_pid:  # the node died before the signal was asked for
        os._exit(1)


def verify_all(items: Sequence[Signed]) -> list[bool]:
    return [verify_signature(key, message, signature) for key, message, signature in items]


class SignaturePool:
    def __init__(self, workers: int | None = None) -> None:
        self._workers = workers or min(2, os.cpu_count() or 1)
        self._executor: ProcessPoolExecutor | None = None

    async def find_valid(self, transactions: Sequence[Transaction]) -> list[Transaction]:
        """The transactions whose signatures verify (all of them, normally)."""
        if len(transactions) < BATCH_MIN:
            return [transaction for transaction in transactions if transaction.has_valid_signature()]
        items = [(tx.sender, tx.signing_bytes(), tx.signature) for tx in transactions]
        size = -(-len(items) // self._workers)
        loop = asyncio.get_running_loop()
        executor = self._get_executor()
        parts = [items[start : start + size] for start in range(0, len(items), size)]
        answers = await asyncio.gather(*(loop.run_in_executor(executor, verify_all, part) for part in parts))
        verdicts = [verdict for answer in answers for verdict in answer]
        return [transaction for transaction, valid in zip(transactions, verdicts, strict=True) if valid]

    def close(self) -> None:
        if self._executor is not None:
            self._executor.shutdown(wait=False, cancel_futures=True)
            self._executor = None

    def _get_executor(self) -> ProcessPoolExecutor:
        if self._executor is None:
            context = multiprocessing.get_context("spawn")
            self._executor = ProcessPoolExecutor(
                self._workers, mp_context=context, initializer=die_with_parent, initargs=(os.getpid(),)
            )
        return self._executor
