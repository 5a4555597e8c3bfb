"""Transaction signatures checked in worker processes, for batches worth a process hop.

The event loop verifies each transaction's signature once; during a replay of
fetched blocks that is a fifth of its time, while another core may sit idle.
The pool checks a batch there instead. Only the signatures that verified are
vouched for; the node's usual check on the loop finds and refuses any other.
The processes start on first use (spawned, so they share nothing with the loop's
threads) and never for a node that does not replay.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import os
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor

from ledger.keys import verify_signature
from ledger.transaction import Transaction

BATCH_MIN = 64  # fewer signatures cost less to check here than to send away
Signed = tuple[bytes, bytes, bytes]  # public key, signed bytes, signature


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
            self._executor = ProcessPoolExecutor(self._workers, mp_context=context)
        return self._executor
