"""Open-loop submission: every tick, send what the schedule says is due, whatever came back before.

Due transfers are grouped by hub and POSTed to /v1/transactions/batch as
pre-encoded JSON, one request per hub per tick; requests are not awaited
before the next tick, so a slow node cannot slow the offered rate down.
A transfer refused BUSY is offered again after the client library's pauses, which
double, until it is accepted or the run ends (``stop``): the node kept nothing,
and a transfer given up leaves a gap in its sender's nonces that holds every
later transfer of that sender for good. The wait shows in its latency.

A refused transfer rides in its hub's batch of the first tick after its pause,
ahead of the new ones, so that there is still one request per hub per tick.
Offered again in a request of their own, the refusals of every earlier batch
grew into thousands of requests a second under sustained overload: this
process took a third of a core and the nodes spent theirs answering BUSY, so
that the network committed less than it could.
"""

from __future__ import annotations

import asyncio
import heapq
import json
import time

import aiohttp

from hubledger_client.client import get_busy_delay_s
from hubledger_tools.bench.timeline import BUSY_AGAIN, BUSY_AT_END, Timeline
from hubledger_tools.bench.workload import Workload

BATCH_PATH = "/v1/transactions/batch"
REQUEST_TIMEOUT_S = 60.0


class Offerer:
    def __init__(
        self,
        session: aiohttp.ClientSession,
        urls: list[str],
        workload: Workload,
        timeline: Timeline,
        *,
        tick_ms: int,
    ) -> None:
        self._session = session
        self._urls = urls
        self._workload = workload
        self._timeline = timeline
        self._tick_s = tick_ms / 1000
        self._requests: set[asyncio.Task[None]] = set()
        # Per hub, the refused transfers waiting for their pause: (due time, position, refusals).
        self._refused: list[list[tuple[float, int, int]]] = [[] for _ in urls]
        self._offering = False
        self._pump: asyncio.Task[None] | None = None

    async def offer(self, rate_per_s: int, duration_s: float) -> int:
        """Offer ``rate_per_s`` for ``duration_s`` from where the last call stopped; how many were sent."""
        timeline = self._timeline
        first = timeline.offered
        end = min(timeline.size, first + int(rate_per_s * duration_s))
        started_s = time.monotonic()
        self._offering = True
        try:
            while timeline.offered < end:
                elapsed_s = time.monotonic() - started_s
                due = min(end, first + int(rate_per_s * elapsed_s) + 1)
                new = range(timeline.offered, max(due, timeline.offered))
                for position in new:
                    timeline.submitted_s[position] = started_s + (position - first) / rate_per_s
                self._send(new)
                timeline.offered = max(due, timeline.offered)
                next_tick_s = started_s + (elapsed_s // self._tick_s + 1) * self._tick_s
                await asyncio.sleep(max(0.0, next_tick_s - time.monotonic()))
        finally:
            self._offering = False
        if self._pump is None:  # refusals go on being offered again while the run drains
            self._pump = asyncio.ensure_future(self._offer_refused_forever())
        return end - first

    async def _offer_refused_forever(self) -> None:
        while True:
            if not self._offering:
                self._send(range(0))
            await asyncio.sleep(self._tick_s)

    def _send(self, new: range) -> None:
        """One request per hub: its refused transfers now due, then its share of ``new``."""
        now_s = time.monotonic()
        hub_count = len(self._urls)
        groups: list[list[tuple[int, int]]] = [[] for _ in range(hub_count)]  # (position, refusals)
        for hub_index, waiting in enumerate(self._refused):
            while waiting and waiting[0][0] <= now_s:
                _, position, refusals = heapq.heappop(waiting)
                groups[hub_index].append((position, refusals))
            groups[hub_index].sort()  # by position: each sender's transfers in nonce order
        for position in new:
            groups[self._workload.get_hub_index(position, hub_count)].append((position, 0))
        for hub_index, items in enumerate(groups):
            if items:
                task = asyncio.ensure_future(self._post(hub_index, items))
                self._requests.add(task)
                task.add_done_callback(self._requests.discard)

    async def _post(self, hub_index: int, items: list[tuple[int, int]]) -> None:
        bodies = self._workload.bodies
        data = b'{"transactions":[' + b",".join(bodies[position] for position, _ in items) + b"]}"
        sent_s = time.monotonic()
        outcomes = self._timeline.outcomes
        try:
            async with self._session.post(
                self._urls[hub_index] + BATCH_PATH,
                data=data,
                headers={"Content-Type": "application/json"},
                timeout=aiohttp.ClientTimeout(total=REQUEST_TIMEOUT_S),
            ) as response:
                answer = json.loads(await response.read())
        except (aiohttp.ClientError, TimeoutError, ValueError) as failure:
            outcomes[f"request failed: {type(failure).__name__}"] += len(items)
            return
        self._timeline.request_round_trips_s.append(time.monotonic() - sent_s)
        results = answer.get("results") if isinstance(answer, dict) else None
        if not isinstance(results, list):
            refusal = answer.get("error") if isinstance(answer, dict) else None
            code = refusal.get("code", "unknown") if isinstance(refusal, dict) else "unknown"
            outcomes[f"batch refused: {code}"] += len(items)
            return
        waiting = self._refused[hub_index]
        for (position, refusals), result in zip(items, results, strict=False):
            error = result.get("error")
            outcome = result.get("status", "unknown") if error is None else str(error.get("code"))
            if outcome == "BUSY":
                due_s = time.monotonic() + get_busy_delay_s(refusals)
                heapq.heappush(waiting, (due_s, position, refusals + 1))
                outcome = BUSY_AGAIN
            outcomes[outcome] += 1

    async def stop(self) -> None:
        """Stop offering again what is still refused BUSY; those count as refused."""
        tasks = [*self._requests, *([self._pump] if self._pump is not None else [])]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        if self.waiting_again:
            self._timeline.outcomes[BUSY_AT_END] += self.waiting_again
        for waiting in self._refused:
            waiting.clear()

    @property
    def in_flight(self) -> int:
        """Requests not yet answered, and refused transfers waiting to be offered again."""
        return len(self._requests) + self.waiting_again

    @property
    def waiting_again(self) -> int:
        """Transfers refused BUSY and waiting for their pause to end."""
        return sum(len(waiting) for waiting in self._refused)
