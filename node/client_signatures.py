"""Client signatures checked off the event loop, with a budget of bad ones per source address.

A batch of 5,000 bad-signature submissions used to be verified on the event
loop: about 1.9 s during which no consensus message was read, so a client
posting such batches to every hub changed views and cut commits from about 40
to under one a second. Now:

- Verification runs in one thread beside the loop (OpenSSL, through
  ``cryptography``, releases the GIL while it verifies), a chunk at a time.
  The loop only hands chunks over and reads their verdicts, so a peer's
  message never waits behind a client's signatures: consensus verifies its
  own on the loop, as it always did, and client work takes at most the one
  thread.
- Each source address has a budget of bad signatures: a bucket of
  ``burst`` tokens refilled at ``per_s`` a second, one token spent for each
  signature that fails. An address with nothing spent goes straight through.
  One in debt is *slowed*: its requests are read and verified one at a time,
  each only as far as its remaining tokens. One that has spent them all is
  *refused* (429 TOO_MANY_BAD_SIGNATURES, with Retry-After) before its body is
  read, until half the bucket has refilled, so that a flooder costs the node
  one checked request per ``burst / (2 * per_s)`` seconds instead of one per
  request. The refusal itself is held back for up to REFUSAL_DELAY_MS (at most
  REFUSALS_HELD_MAX at once per address; past that it is sent at once): a
  flooder that ignores Retry-After and asks again at once otherwise made
  hundreds of refused requests a second per hub, and on a shared machine its
  own sending, and the hubs' accepting, took the CPU consensus needed (four
  hubs on two cores fell from about 60 honest commits a second to 12).
- The budget remembers only addresses in debt (a full bucket is forgotten),
  at most SOURCES_MAX of them, the oldest forgotten first.

``BadSignatureBudget`` is pure (time is an argument); ``ClientSignatures`` is
the part with a thread and locks, used by node/api/transactions.py.
"""

from __future__ import annotations

import asyncio
import math
from collections import Counter
from collections.abc import AsyncIterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from dataclasses import dataclass

from ledger.transaction import Transaction
from node.clock import now_ms
from node.errors import ApiError

SOURCES_MAX = 10_000
REFUSAL_DELAY_MS = 1000
REFUSALS_HELD_MAX = 32  # refusals held back at once per address
CHUNK_MAX = 128  # signatures handed to the thread at once: a few milliseconds of work


class TooManyBadSignatures(ApiError):
    """Raised when a source address has spent its budget of bad signatures; ``retry_after_s``
    says when it may submit again (the Retry-After header)."""

    def __init__(self, retry_after_s: int) -> None:
        super().__init__(
            429,
            "TOO_MANY_BAD_SIGNATURES",
            "too many submissions from this address failed their signature check; "
            f"nothing was checked or kept: retry after {retry_after_s} s",
        )
        self.retry_after_s = retry_after_s


@dataclass(slots=True)
class _Debt:
    tokens: float
    updated_ms: int
    refused: bool = False


class BadSignatureBudget:
    """How many bad signatures each source address may still send (see the module's docstring)."""

    def __init__(self, *, burst: int, per_s: int, sources_max: int = SOURCES_MAX) -> None:
        if burst < 1 or per_s < 1 or sources_max < 1:
            raise ValueError("burst, per_s and sources_max must be at least 1")
        self._burst = burst
        self._per_s = per_s
        self._sources_max = sources_max
        self._debts: dict[str, _Debt] = {}

    def get_retry_after_ms(self, source: str, now: int) -> int:
        """0 when ``source`` may submit; else how long until it may."""
        debt = self._refill(source, now)
        if debt is None or not debt.refused:
            return 0
        return math.ceil((self._burst / 2 - debt.tokens) * 1000 / self._per_s)

    def get_allowance(self, source: str, now: int) -> int:
        """Bad signatures ``source`` may still send before it is refused."""
        debt = self._refill(source, now)
        if debt is None:
            return self._burst
        return 0 if debt.refused else math.floor(debt.tokens)

    def is_in_debt(self, source: str, now: int) -> bool:
        return self._refill(source, now) is not None

    def charge(self, source: str, failures: int, now: int) -> None:
        """Spend a token for each of ``failures`` bad signatures from ``source``."""
        if failures <= 0:
            return
        debt = self._refill(source, now)
        if debt is None:
            while len(self._debts) >= self._sources_max:
                del self._debts[next(iter(self._debts))]
            debt = self._debts[source] = _Debt(float(self._burst), now)
        debt.tokens = max(0.0, debt.tokens - failures)  # refused until half refilled, however deep
        if debt.tokens < 1:
            debt.refused = True

    def _refill(self, source: str, now: int) -> _Debt | None:
        debt = self._debts.get(source)
        if debt is None:
            return None
        debt.tokens = min(float(self._burst), debt.tokens + (now - debt.updated_ms) * self._per_s / 1000)
        debt.updated_ms = max(debt.updated_ms, now)
        if debt.refused and debt.tokens >= self._burst / 2:
            debt.refused = False
        if debt.tokens >= self._burst:
            del self._debts[source]
            return None
        return debt


def _check_all(transactions: Sequence[Transaction]) -> list[bool]:
    return [transaction.has_valid_signature() for transaction in transactions]


class ClientSignatures:
    """Verifies client submissions in a thread, within each source address's budget."""

    def __init__(self, *, burst: int, per_s: int) -> None:
        self.budget = BadSignatureBudget(burst=burst, per_s=per_s)
        self._executor = ThreadPoolExecutor(1, thread_name_prefix="client-signatures")
        self._locks: dict[str, tuple[asyncio.Lock, int]] = {}
        self._held: dict[str, int] = {}  # refusals being held back, per address
        # valid, bad, unchecked (left once the budget ran out), refused (requests answered 429)
        self.counts: Counter[str] = Counter()

    def close(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)

    async def refuse_if_over_budget(self, source: str) -> None:
        """Raise TooManyBadSignatures while ``source`` is refused, after holding it back."""
        retry_after_ms = self.budget.get_retry_after_ms(source, now_ms())
        if retry_after_ms <= 0:
            return
        held = self._held.get(source, 0)
        if held < REFUSALS_HELD_MAX:
            self._held[source] = held + 1
            try:
                await asyncio.sleep(min(retry_after_ms, REFUSAL_DELAY_MS) / 1000)
            finally:
                self._release_hold(source)
            retry_after_ms = self.budget.get_retry_after_ms(source, now_ms())
            if retry_after_ms <= 0:
                return
        self.counts["refused"] += 1
        raise TooManyBadSignatures(max(1, math.ceil(retry_after_ms / 1000)))

    def _release_hold(self, source: str) -> None:
        held = self._held.pop(source) - 1
        if held:
            self._held[source] = held

    @asynccontextmanager
    async def turn(self, source: str) -> AsyncIterator[None]:
        """Enter to read and check a request from ``source``: refused while over budget,
        one request at a time while in debt, at once otherwise."""
        await self.refuse_if_over_budget(source)
        if not self.budget.is_in_debt(source, now_ms()):
            yield
            return
        lock, users = self._locks.get(source, (asyncio.Lock(), 0))
        self._locks[source] = (lock, users + 1)
        try:
            async with lock:
                await self.refuse_if_over_budget(source)
                yield
        finally:
            lock, users = self._locks[source]
            if users == 1:
                del self._locks[source]
            else:
                self._locks[source] = (lock, users - 1)

    async def verify(self, source: str, transactions: Sequence[Transaction]) -> list[bool | None]:
        """Each signature's verdict, or None for those left unchecked once ``source`` ran out
        of budget. Bad signatures are charged to ``source``."""
        verdicts: list[bool | None] = []
        loop = asyncio.get_running_loop()
        while len(verdicts) < len(transactions):
            allowance = self.budget.get_allowance(source, now_ms())
            if allowance < 1:
                self.counts["unchecked"] += len(transactions) - len(verdicts)
                verdicts.extend([None] * (len(transactions) - len(verdicts)))
                break
            start = len(verdicts)
            chunk = transactions[start : start + min(CHUNK_MAX, allowance)]
            answer = await loop.run_in_executor(self._executor, _check_all, chunk)
            failures = answer.count(False)
            self.budget.charge(source, failures, now_ms())
            self.counts["bad"] += failures
            self.counts["valid"] += len(answer) - failures
            verdicts.extend(answer)
        return verdicts
