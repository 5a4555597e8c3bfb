"""The bench's open-loop offerer against a real HTTP hub on 127.0.0.1 that answers BUSY."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field

import aiohttp
import pytest
from aiohttp import web

from hubledger_tools.bench.offer import BATCH_PATH, Offerer
from hubledger_tools.bench.timeline import BUSY_AGAIN, BUSY_AT_END, Timeline
from hubledger_tools.bench.workload import Workload
from tests.waiting import wait_until

TICK_MS = 20


@dataclass
class BusyHub:
    """Refuses every transfer BUSY ``refusals`` times, then takes it; counts its requests."""

    refusals: int
    requests: int = 0
    refused: Counter[str] = field(default_factory=Counter)
    accepted: list[int] = field(default_factory=list)

    async def batch(self, request: web.Request) -> web.Response:
        self.requests += 1
        results: list[dict[str, object]] = []
        for item in (await request.json())["transactions"]:
            name = item["name"]
            if self.refused[name] < self.refusals:
                self.refused[name] += 1
                results.append({"error": {"code": "BUSY", "message": "busy"}})
            else:
                self.accepted.append(int(name))
                results.append({"id": name, "status": "pending"})
        return web.json_response({"results": results}, status=202)


@pytest.fixture
async def hub_url(request: pytest.FixtureRequest) -> AsyncIterator[tuple[BusyHub, str]]:
    hub = BusyHub(refusals=request.param)
    app = web.Application()
    app.router.add_post(BATCH_PATH, hub.batch)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        yield hub, f"http://127.0.0.1:{port}"
    finally:
        await runner.cleanup()


def make_workload(count: int) -> Workload:
    ids = [str(position) for position in range(count)]
    return Workload(ids, [b'{"name":"%d"}' % position for position in range(count)], sender_count=4)


async def offer_until(
    url: str, count: int, *, rate_per_s: int, duration_s: float, done: Callable[[Offerer, Timeline], bool]
) -> tuple[Offerer, Timeline, float]:
    """Offer ``count`` transfers to one hub, wait (10 s at most) until ``done``, stop; the time taken."""
    workload = make_workload(count)
    timeline = Timeline.create(workload.ids)
    loop = asyncio.get_running_loop()
    async with aiohttp.ClientSession() as session:
        offerer = Offerer(session, [url], workload, timeline, tick_ms=TICK_MS)
        started = loop.time()
        await offerer.offer(rate_per_s=rate_per_s, duration_s=duration_s)
        await wait_until(lambda: done(offerer, timeline), "the offerer to finish", deadline_s=10)
        elapsed_s = loop.time() - started
        await offerer.stop()
    return offerer, timeline, elapsed_s


@pytest.mark.parametrize("hub_url", [3], indirect=True)
async def test_refused_transfers_ride_in_later_batches_one_request_a_tick(
    hub_url: tuple[BusyHub, str],
) -> None:
    hub, url = hub_url
    _, timeline, elapsed_s = await offer_until(
        url, 500, rate_per_s=500, duration_s=1.0, done=lambda offerer, _: offerer.in_flight == 0
    )
    assert sorted(hub.accepted) == list(range(500))  # each accepted once, none lost
    assert timeline.outcomes == Counter({"pending": 500, BUSY_AGAIN: 1500})
    # 50 ticks of new transfers, each refused three times (pauses of 0.1, 0.2 and 0.4 s):
    # one request a tick at the most, not one for every batch's refusals as well (200).
    assert hub.requests <= elapsed_s * 1000 / TICK_MS + 2
    for sender in range(4):  # each sender's transfers reached the hub in nonce order
        mine = [position for position in hub.accepted if position % 4 == sender]
        assert mine == sorted(mine)


@pytest.mark.parametrize("hub_url", [10**6], indirect=True)
async def test_what_is_still_refused_when_the_run_stops_counts_as_refused(
    hub_url: tuple[BusyHub, str],
) -> None:
    hub, url = hub_url
    offerer, timeline, _ = await offer_until(
        url, 50, rate_per_s=1000, duration_s=0.05,
        done=lambda offerer, timeline: timeline.outcomes[BUSY_AGAIN] >= 100 and offerer.waiting_again == 50,
    )
    assert timeline.outcomes[BUSY_AT_END] == 50 and timeline.outcomes["pending"] == 0
    assert offerer.in_flight == 0
    assert hub.accepted == []
