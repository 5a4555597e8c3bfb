"""The compose profile "observer": the regulator's observer follows the four hubs over read-only
links, becomes ready, reaches their height with the same blocks, and raises no alert."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest

from tests.e2e import chain
from tests.e2e.conftest import TIMINGS_S
from tests.e2e.network import HubNetwork, measure_s

PROFILE = ("--profile", "observer")
DEADLINE_S = 120.0


@pytest.fixture(scope="module")
def observer(hub_network: HubNetwork) -> Iterator[str]:
    compose = hub_network.compose
    compose.compose(*PROFILE, "up", "--detach", "--no-build", "observer")
    try:
        yield f"https://127.0.0.1:{compose.observer_port}"
    finally:
        compose.compose(*PROFILE, "rm", "--force", "--stop", "-v", "observer", timeout_s=60)


def test_observer_becomes_ready_at_the_validators_height(network: HubNetwork, observer: str) -> None:
    started = time.monotonic()
    network.transfer(via="beijing")
    height = network.wait_in_sync()

    def caught_up() -> dict[str, Any] | None:
        if chain.get_json(observer + "/readyz")[0] != 200:
            return None
        code, status = chain.get_json(observer + "/v1/status")
        return status if code == 200 and status["height"] >= height else None

    status = chain.wait_until(caught_up, DEADLINE_S, f"the observer ready at height {height}")
    TIMINGS_S["observer up -> ready at the hubs' height"] = measure_s(started)
    assert status["role"] == "observer"
    assert {hub["name"] for hub in status["hubs"]} == set(network.hubs)
    assert status["alerts"]["count"] == 0, status["alerts"]
    observed = [chain.get_block_hash(observer, checked) for checked in range(1, height + 1)]
    assert observed == network.get_block_hashes("beijing", height)
    code, answer = chain.get_json(observer + "/v1/transactions/" + "00" * 32)
    assert code == 200 and answer["status"] == "unknown"
