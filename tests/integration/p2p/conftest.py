"""Each test gets a cluster factory; teardown stops everything and checks that no task outlives it."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable

import pytest

from tests.integration.p2p.cluster import Cluster


@pytest.fixture
async def make_cluster() -> AsyncIterator[Callable[[int], Cluster]]:
    clusters: list[Cluster] = []

    def make(size: int) -> Cluster:
        cluster = Cluster(size)
        clusters.append(cluster)
        return cluster

    yield make
    for cluster in clusters:
        await cluster.close()
    await asyncio.sleep(0)  # let cancelled callbacks run before looking for leftovers
    leftovers = [task for task in asyncio.all_tasks() if task is not asyncio.current_task()]
    assert not leftovers, f"tasks outlived the network: {leftovers}"
