"""Open-loop submission: every tick, send what the schedule says is due, whatever came back before.

Due transfers are grouped by hub and POSTed to /v1/transactions/batch as
pre-encoded JSON, one request per hub per tick; requests are not awaited
before the next tick, so a slow node cannot slow the offered rate down.
A transfer refused BUSY is offered again after the client library's pauses, which
double, until it is accepted or the run ends (``stop``): the node kept nothing,
and a transfer given up leaves a gap in its sender's nonces that holds every
later transfer of that sender for good. The wait shows in its latency.
"""

from __future__ import annotations

import asyncio
import json
import time

import aiohttp

from node.bench.timeline import BUSY_AGAIN, BUSY_AT_END, Timeline
from node.bench.workload import Workload
from node.client import get_busy_delay_s

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

    async def offer(self, rate_per_s: int, duration_s: float) -> int:
        """Offer ``rate_per_s`` for ``duration_s`` from where the last call stopped; how many were sent."""
        timeline = self._timeline
        first = timeline.offered
        end = min(timeline.size, first + int(rate_per_s * duration_s))
        started_s = time.monotonic()
        while timeline.offered < end:
            elapsed_s = time.monotonic() - started_s
            due = min(end, first + int(rate_per_s * elapsed_s) + 1)
            if due > timeline.offered:
                self._send(timeline.offered, due, started_s, first, rate_per_s)
                timeline.offered = due
            next_tick_s = started_s + (elapsed_s // self._tick_s + 1) * self._tick_s
            await asyncio.sleep(max(0.0, next_tick_s - time.monotonic()))
        return end - first

    def _send(self, start: int, stop: int, started_s: float, first: int, rate_per_s: int) -> None:
        hub_count = len(self._urls)
        groups: list[list[int]] = [[] for _ in range(hub_count)]
        for position in range(start, stop):
            groups[self._workload.get_hub_index(position, hub_count)].append(position)
            self._timeline.submitted_s[position] = started_s + (position - first) / rate_per_s
        for hub_index, positions in enumerate(groups):
            if positions:
                task = asyncio.ensure_future(self._post(self._urls[hub_index], positions))
                self._requests.add(task)
                task.add_done_callback(self._requests.discard)

    async def _post(self, url: str, positions: list[int], attempt: int = 0) -> None:
        bodies = self._workload.bodies
        data = b'{"transactions":[' + b",".join(bodies[position] for position in positions) + b"]}"
        sent_s = time.monotonic()
        outcomes = self._timeline.outcomes
        try:
            async with self._session.post(
                url + BATCH_PATH,
                data=data,
                headers={"Content-Type": "application/json"},
                timeout=aiohttp.ClientTimeout(total=REQUEST_TIMEOUT_S),
            ) as response:
                answer = json.loads(await response.read())
        except (aiohttp.ClientError, TimeoutError, ValueError) as failure:
            outcomes[f"request failed: {type(failure).__name__}"] += len(positions)
            return
        self._timeline.request_round_trips_s.append(time.monotonic() - sent_s)
        results = answer.get("results") if isinstance(answer, dict) else None
        if not isinstance(results, list):
            refusal = answer.get("error") if isinstance(answer, dict) else None
            code = refusal.get("code", "unknown") if isinstance(refusal, dict) else "unknown"
            outcomes[f"batch refused: {code}"] += len(positions)
            return
        busy = []
        for position, result in zip(positions, results, strict=False):
            error = result.get("error")
            outcome = result.get("status", "unknown") if error is None else str(error.get("code"))
            if outcome == "BUSY":
                busy.append(position)
                outcome = BUSY_AGAIN
            outcomes[outcome] += 1
        if busy:
            # Backing off matters under overload: re-offering every refusal at a fixed pace
            # kept this process busy on a core the nodes needed, and the nodes busy refusing.
            try:
                await asyncio.sleep(get_busy_delay_s(attempt))
            except asyncio.CancelledError:
                outcomes[BUSY_AT_END] += len(busy)
                raise
            await self._post(url, busy, attempt + 1)

    async def stop(self) -> None:
        """Stop offering again what is still refused BUSY; those count as refused."""
        for request in list(self._requests):
            request.cancel()
        await asyncio.gather(*list(self._requests), return_exceptions=True)

    @property
    def in_flight(self) -> int:
        return len(self._requests)
