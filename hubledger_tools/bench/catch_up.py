"""Catch-up: how fast a hub that missed the load replays it from its peers' certified blocks.

With ``--catch-up`` the last hub is stopped (SIGTERM) once the senders are set
up, the load runs on the others, and after the drain the hub is started again.
The bench times it until its height reaches the height the others had, from
its process start and from its API's first answer (Python's start-up is not
replay), and divides the transactions of those blocks by the second.
Every block it replays is fetched with its commit certificate, checked and
executed, as state transfer always does: nothing is skipped to look fast.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import Any

import aiohttp

from hubledger_tools.bench.cluster import Cluster, ClusterError

POLL_S = 0.05
TIMEOUT_S = 900.0


@dataclass(frozen=True)
class Lagging:
    hub: str
    from_height: int  # its height when it was stopped


async def stop_lagging_hub(session: aiohttp.ClientSession, cluster: Cluster) -> Lagging:
    """Stop the last hub, which will miss the load."""
    hub = cluster.hubs[-1]
    height = await get_height(session, cluster.urls[hub])
    cluster.stop_hub(hub)
    return Lagging(hub, height)


async def measure_catch_up(
    session: aiohttp.ClientSession, cluster: Cluster, lagging: Lagging, observed_hub: str
) -> dict[str, Any]:
    """Start the lagging hub again and time its replay up to the observed hub's height."""
    target = await get_height(session, cluster.urls[observed_hub])
    transactions = await count_transactions(session, cluster.urls[observed_hub], lagging.from_height, target)
    started_s = time.monotonic()
    cluster.launch(lagging.hub)
    serving_s: float | None = None  # when its API first answered: the replay starts about then
    while True:
        cluster.check_alive()
        try:
            height = await get_height(session, cluster.urls[lagging.hub])
            serving_s = serving_s or time.monotonic()
            if height >= target:
                break
        except (aiohttp.ClientError, OSError):
            pass  # not serving yet
        if time.monotonic() - started_s > TIMEOUT_S:
            raise ClusterError(f"{lagging.hub} did not reach height {target} within {TIMEOUT_S:.0f} s")
        await asyncio.sleep(POLL_S)
    ended_s = time.monotonic()
    replay_s = max(ended_s - (serving_s or started_s), POLL_S)
    return {
        "hub": lagging.hub,
        "from_height": lagging.from_height,
        "to_height": target,
        "blocks": target - lagging.from_height,
        "transactions": transactions,
        "seconds_from_start": round(ended_s - started_s, 2),
        "seconds_replaying": round(replay_s, 2),
        "transactions_per_s": round(transactions / replay_s, 1),
    }


async def get_height(session: aiohttp.ClientSession, url: str) -> int:
    async with session.get(url + "/v1/status") as response:
        return int((await response.json())["height"])


async def count_transactions(session: aiohttp.ClientSession, url: str, after: int, to: int) -> int:
    """Transactions in blocks ``after + 1`` to ``to`` as ``url`` serves them."""
    count = 0
    for height in range(after + 1, to + 1):
        async with session.get(f"{url}/v1/blocks/{height}") as response:
            count += len((await response.json())["transactions"])
    return count
