"""Bad input at a real hub's edge: each refused and counted, while the hub answers others at once.

One hub runs as a real process. Each bad client connects from its own
loopback address (127.0.0.2, .3, ...), to the client API and to the peer
port; a good client on 127.0.0.1 checks that the hub still answers.
"""

from __future__ import annotations

import asyncio
import datetime
import signal
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from hubledger_tools.pki import NetworkPki, PkiLayout
from hubledger_tools.pki.lifecycle import revoke_certificates
from ledger.tls_identity import Identity, Role
from tests.integration.certificates.probe import Samples, get_sample, scrape
from tests.integration.edge.clients import (
    get_status,
    hold_connections,
    is_refused,
    open_slow_handshake,
    open_slow_tls,
    read_resident_bytes,
    send_garbage_hello,
    tls_context,
    wait_closed_by_hub,
)
from tests.integration.harness import LocalNetwork, http_json, wait_for

HUB = "beijing"
TIMEOUT_S = 2.0
BURST, PER_S = 40, 10  # the request budget of each client address
EDGE_ENV = {
    "HUBLEDGER_API_HEADER_TIMEOUT_MS": str(int(TIMEOUT_S * 1000)),
    "HUBLEDGER_API_TLS_HANDSHAKE_TIMEOUT_MS": str(int(TIMEOUT_S * 1000)),
    "HUBLEDGER_API_REQUESTS_BURST": str(BURST),
    "HUBLEDGER_API_REQUESTS_PER_S": str(PER_S),
    "HUBLEDGER_TLS_WATCH_INTERVAL_MS": "0",
}
PEER_TIMEOUT_S = 10.0  # node/edge.py PEER_LIMITS
CONNECTIONS_AT_ONCE = 500
RSS_GROWTH_MAX_BYTES = 96 * 1024 * 1024


@pytest.fixture(scope="module")
def network(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalNetwork]:
    network = LocalNetwork(tmp_path_factory.mktemp("edge") / "net", [HUB], env=EDGE_ENV)
    network.start(HUB)
    yield network
    network.stop_all()


def ports(network: LocalNetwork) -> dict[str, int]:
    api = network.api_ports[HUB]
    return {"api": api, "p2p": api + 1}


def refusals(network: LocalNetwork, listener: str) -> Samples:
    samples = scrape(network, HUB)
    return {key: value for key, value in samples.items() if key[0] == REFUSAL_METRICS[listener]}


REFUSAL_METRICS = {"api": "hubledger_api_tls_refused_total", "p2p": "hubledger_p2p_handshakes_refused_total"}
CONNECTION_METRICS = {"api": "hubledger_api_connections_refused_total", "p2p": REFUSAL_METRICS["p2p"]}


def count(network: LocalNetwork, metric: str, reason: str) -> float:
    return get_sample(scrape(network, HUB), metric, reason=reason)


def assert_answers_promptly(network: LocalNetwork) -> None:
    started = time.monotonic()
    assert http_json(network.url(HUB) + "/healthz", timeout_s=2.0)[0] == 200
    assert time.monotonic() - started < 1.0


@pytest.mark.parametrize("listener", ["api", "p2p"])
def test_a_garbage_client_hello_is_refused_and_counted(network: LocalNetwork, listener: str) -> None:
    before = sum(refusals(network, listener).values())
    slow_before = count(network, CONNECTION_METRICS[listener], "slow_handshake")
    assert send_garbage_hello(ports(network)[listener], "127.0.0.2")
    wait_for(lambda: sum(refusals(network, listener).values()) > before, what=f"{listener} to count it")
    assert_answers_promptly(network)
    if listener == "api":  # (the peer port's deadline is 10 s: not worth the wait twice)
        time.sleep(TIMEOUT_S + 0.5)  # past the handshake deadline: a failed handshake is not also slow
        assert count(network, CONNECTION_METRICS[listener], "slow_handshake") == slow_before


@pytest.mark.parametrize("listener", ["api", "p2p"])
@pytest.mark.parametrize("kind", ["another_ca", "expired", "revoked"])
def test_a_bad_client_certificate_is_refused_and_counted_by_reason(
    network: LocalNetwork, tmp_path: Path, listener: str, kind: str
) -> None:
    certificate = make_bad_certificate(network, tmp_path, kind)
    reason = {"another_ca": "tls_unknown_ca", "expired": "tls_expired", "revoked": "tls_revoked"}[kind]
    metric = REFUSAL_METRICS[listener]
    before = count(network, metric, reason)
    assert is_refused(ports(network)[listener], "127.0.0.3", tls_context(network, certificate))
    wait_for(lambda: count(network, metric, reason) > before, what=f"{listener} to count {reason}")
    assert_answers_promptly(network)


def make_bad_certificate(network: LocalNetwork, tmp_path: Path, kind: str) -> tuple[Path, Path]:
    if kind == "another_ca":
        other = NetworkPki.create(PkiLayout.of(tmp_path / "elsewhere"), "elsewhere")
        other.issue(Identity(Role.HUB, "shanghai"))
        return other.layout.certificate(Identity(Role.HUB, "shanghai")), other.layout.key(
            Identity(Role.HUB, "shanghai")
        )
    pki = NetworkPki.load(PkiLayout.of(network.directory))
    identity = Identity(Role.BANK, f"{kind}-{time.monotonic_ns()}")
    if kind == "expired":
        long_ago = datetime.datetime.now(datetime.UTC) - datetime.timedelta(days=30)
        pki.issue(identity, now=long_ago, valid_days=1)
    else:
        pki.issue(identity)
        revoke_certificates(pki, identity=identity)
        reloads = count_reloads(network)
        network.processes[HUB].send_signal(signal.SIGHUP)
        wait_for(lambda: count_reloads(network) > reloads, what="the hub to reload the new list")
    return pki.layout.certificate(identity), pki.layout.key(identity)


def count_reloads(network: LocalNetwork) -> float:
    return get_sample(scrape(network, HUB), "hubledger_tls_reloads_total", outcome="loaded")


@pytest.mark.parametrize("listener", ["api", "p2p"])
def test_slowloris_connections_are_cut_and_counted_while_the_hub_answers(
    network: LocalNetwork, listener: str
) -> None:
    port = ports(network)[listener]
    timeout_s = TIMEOUT_S if listener == "api" else PEER_TIMEOUT_S
    bank = network.client_files(Identity(Role.BANK, HUB))
    metric = CONNECTION_METRICS[listener]
    before = count(network, metric, "slow_request")
    handshakes_before = count(network, metric, "slow_handshake")
    slow: list[socket.socket] = [
        open_slow_tls(port, "127.0.0.4", tls_context(network, bank)) for _ in range(20)
    ]
    slow += [open_slow_handshake(port, "127.0.0.4") for _ in range(20)]
    assert_answers_promptly(network)
    for sock in slow:
        with sock:
            assert wait_closed_by_hub(sock, timeout_s * 3) < timeout_s * 3
    assert count(network, metric, "slow_request") - before == 20
    assert count(network, metric, "slow_handshake") - handshakes_before == 20
    assert_answers_promptly(network)


@pytest.fixture(scope="module")
def roomy_network(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalNetwork]:
    """Default deadlines: 500 handshakes at once on a loaded machine take longer than EDGE_ENV's."""
    network = LocalNetwork(tmp_path_factory.mktemp("crowd") / "net", [HUB])
    network.start(HUB)
    yield network
    network.stop_all()


@pytest.mark.parametrize("listener", ["api", "p2p"])
def test_500_connections_at_once_past_the_limit_are_refused_counted_and_memory_stays_bounded(
    roomy_network: LocalNetwork, listener: str
) -> None:
    network = roomy_network
    port = ports(network)[listener]
    bank = network.client_files(Identity(Role.BANK, HUB))
    metric = CONNECTION_METRICS[listener]
    before = count(network, metric, "too_many_connections")
    resident = read_resident_bytes(network.processes[HUB].pid)
    answered, opened = asyncio.run(
        hold_connections(port, "127.0.0.5", tls_context(network, bank), CONNECTIONS_AT_ONCE)
    )
    per_address_max = 256 if listener == "api" else 64  # [api] default, node/edge.py PEER_LIMITS
    counted = count(network, metric, "too_many_connections") - before
    assert 0 < answered <= per_address_max, (answered, opened, counted)
    assert counted >= opened - per_address_max > 0, (answered, opened, counted)
    assert read_resident_bytes(network.processes[HUB].pid) - resident < RSS_GROWTH_MAX_BYTES
    assert_answers_promptly(network)


def test_a_client_past_its_request_budget_gets_429_while_others_are_served(network: LocalNetwork) -> None:
    port = ports(network)["api"]
    context = tls_context(network)
    # The burst passes, then about PER_S a second. How many pass depends on how fast this machine
    # asks (each request is a new TLS connection), so it is bounded by the time taken, not a count.
    started = time.monotonic()
    statuses: list[tuple[int, dict[str, str], bytes]] = []
    limited: list[tuple[dict[str, str], bytes]] = []
    while len(limited) < 10:
        assert time.monotonic() - started < 30, f"not ten of {len(statuses)} requests refused"
        status, headers, body = get_status(port, "/v1/status", "127.0.0.6", context)
        statuses.append((status, headers, body))
        if status == 429:
            limited.append((headers, body))
        served = len(statuses) - len(limited)
        budget = BURST + PER_S * (time.monotonic() - started) + 1  # + 1: the hub counts whole ms
        assert status in (200, 429) and served <= budget, (status, served, budget)
    assert [status for status, _, _ in statuses[:BURST]] == [200] * BURST
    headers, body = limited[0]
    assert b'"TOO_MANY_REQUESTS"' in body and int(headers["Retry-After"]) >= 1
    assert get_status(port, "/v1/status", "127.0.0.7", context)[0] == 200  # another address
    assert count_limited(network) >= len(limited)


def count_limited(network: LocalNetwork) -> float:
    return get_sample(scrape(network, HUB), "hubledger_api_requests_limited_total")
