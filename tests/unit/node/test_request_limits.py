"""The request budget per client address, and the connection count per address and in all."""

from __future__ import annotations

from pathlib import Path

import pytest

from hubledger_tools.netgen import generate_network
from node.config import load_config
from node.edge import REFUSED_TOO_MANY, ConnectionCount, EdgeLimits
from node.errors import ConfigError
from node.request_limits import RequestBudget


def test_an_address_gets_its_burst_then_its_rate_and_others_are_not_touched() -> None:
    budget = RequestBudget(burst=3, per_s=2)
    assert [budget.take("10.0.0.1", 0) for _ in range(3)] == [0, 0, 0]
    assert budget.take("10.0.0.1", 0) == 500  # one more comes in half a second at 2 a second
    assert budget.take("10.0.0.2", 0) == 0
    assert budget.take("10.0.0.1", 499) > 0
    assert budget.take("10.0.0.1", 500) == 0
    assert budget.take("10.0.0.1", 10_000) == 0  # refilled, never past the burst
    assert [budget.take("10.0.0.1", 10_000) for _ in range(3)] == [0, 0, 500]


def test_the_budget_remembers_a_bounded_number_of_addresses() -> None:
    budget = RequestBudget(burst=1, per_s=1, addresses_max=100)
    for index in range(10_000):
        budget.take(f"10.{index // 256}.{index % 256}.1", 0)
    assert budget.addresses == 100
    assert budget.take("10.39.15.1", 0) > 0  # among the latest: still limited
    assert budget.take("10.0.0.1", 0) == 0  # the oldest was forgotten: a full bucket again


def test_connections_past_the_limits_are_refused_and_counted_and_released_ones_make_room() -> None:
    refused: list[str] = []
    count = ConnectionCount(
        EdgeLimits(tls_handshake_timeout_s=1, header_timeout_s=1, total_max=3, per_address_max=2),
        refused.append,
    )
    assert count.admit("a") and count.admit("a")
    assert not count.admit("a")
    assert count.admit("b")
    assert not count.admit("c")  # the total is reached
    assert refused == [REFUSED_TOO_MANY, REFUSED_TOO_MANY]
    count.release("a")
    assert count.admit("c")
    for address in ("a", "b", "c"):
        count.release(address)
    assert count.total == 0 and not count.by_address


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("HUBLEDGER_API_REQUESTS_PER_S", "0", "api.requests_per_s"),
        ("HUBLEDGER_API_REQUESTS_BURST", "0", "api.requests_burst"),
        ("HUBLEDGER_API_CONNECTIONS_PER_ADDRESS_MAX", "5000", "api.connections_per_address_max"),
        ("HUBLEDGER_API_HEADER_TIMEOUT_MS", "10", "api.header_timeout_ms"),
        ("HUBLEDGER_API_TLS_HANDSHAKE_TIMEOUT_MS", "10", "api.tls_handshake_timeout_ms"),
        ("HUBLEDGER_TLS_WATCH_INTERVAL_MS", "10", "tls.watch_interval_ms"),
    ],
)
def test_limits_out_of_range_stop_the_node_naming_the_field(
    tmp_path: Path, variable: str, value: str, message: str
) -> None:
    generate_network(["beijing", "shanghai", "shenzhen", "hangzhou"], tmp_path)
    with pytest.raises(ConfigError, match=message):
        load_config(tmp_path / "beijing.toml", environ={variable: value})
