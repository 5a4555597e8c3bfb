"""A hub's observer endpoint over real TLS: a revoked observer is shut out at the reload, one
observer name cannot take every link nor the hub's time, and its failures do not flood the log."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import cast

import aiohttp
import pytest
import structlog.testing
from aiohttp import web

from hubledger_tools.netgen import generate_network
from hubledger_tools.pki import NetworkPki, PkiLayout
from hubledger_tools.pki.lifecycle import revoke_certificates
from hubledger_tools.ports import find_port_base
from ledger import cbor
from ledger.tls_identity import Identity, Role
from node.config import load_config
from node.peer_links import ObserverReadOnly
from node.tls_reload import TlsReloader
from node.tls_setup import load_node_tls
from p2p.errors import PeerUnavailable, RequestFailed
from p2p.network import PeerNetwork
from p2p.observer_budget import RATE_LIMITED, AnswerBudget
from p2p.observer_links import HubLink, ObserverEndpoint
from p2p.tls import TlsFiles, make_client_context

HUBS = ["beijing", "shanghai", "shenzhen", "hangzhou"]
REGULATOR = Identity(Role.OBSERVER, "regulator")
AUDITOR = Identity(Role.OBSERVER, "auditor")
DEADLINE_S = 10.0


class NoPeers:
    """The validator links a reload re-handshakes: none here."""

    async def replace_tls(self, tls: object) -> int:
        return 0


class BudgetClock:
    """The answer budget's clock: the loop's, unless a test holds it still to read a budget exactly
    (a debt of a few kilobytes refills in milliseconds, less than a loaded machine takes to ask again)."""

    def __init__(self) -> None:
        self.held_ms: int | None = None

    def __call__(self) -> int:
        return self.held_ms if self.held_ms is not None else int(asyncio.get_running_loop().time() * 1000)


@dataclass
class Hub:
    endpoint: ObserverEndpoint
    reloader: TlsReloader
    url: str
    pki: NetworkPki
    session: aiohttp.ClientSession
    clock: BudgetClock

    def link(self, observer: Identity = REGULATOR) -> HubLink:
        layout = self.pki.layout
        certificate, key = layout.certificate(observer), layout.key(observer)
        files = TlsFiles(layout.ca_certificate, certificate, key, layout.crl)
        return HubLink("beijing", self.url, self.session, make_client_context(files))


async def answer_kind(observer: str, request: bytes) -> bytes:
    value = cbor.decode(request, bytes_max=1024)
    if value.get("kind") == "write":
        raise ObserverReadOnly(f"observer {observer} asked 'write': observers may only read")
    return b"x" * int(value.get("size", 1))


@pytest.fixture
async def hub(tmp_path: Path) -> AsyncIterator[Hub]:
    generate_network(HUBS, tmp_path)
    config = load_config(tmp_path / "beijing.toml", environ={})
    tls = load_node_tls(config, HUBS, Path("[tls]"))
    clock = BudgetClock()
    budget = AnswerBudget(clock, burst_bytes=64 * 1024)
    endpoint = ObserverEndpoint(answer_kind, budget=budget)
    app = web.Application()
    endpoint.add_routes(app)
    runner = web.AppRunner(app)
    await runner.setup()
    port = find_port_base(1)
    await web.TCPSite(runner, "127.0.0.1", port, ssl_context=tls.peer.server_context).start()
    reloader = TlsReloader(config, HUBS, cast(PeerNetwork, NoPeers()), tls, observers=endpoint)
    async with aiohttp.ClientSession() as session:
        pki = NetworkPki.load(PkiLayout.of(tmp_path))
        yield Hub(endpoint, reloader, f"wss://127.0.0.1:{port}/p2p/observer", pki, session, clock)
    await runner.cleanup()


async def ask(link: HubLink, **fields: object) -> bytes:
    return await link.request(cbor.encode({"kind": "get_blocks", **fields}), timeout_s=DEADLINE_S)


async def wait_until(condition: Callable[[], bool], what: str) -> None:
    async with asyncio.timeout(DEADLINE_S):
        while not condition():
            await asyncio.sleep(0.01)
    assert condition(), what


async def test_a_revoked_observer_loses_its_link_at_the_reload_and_cannot_link_again(hub: Hub) -> None:
    link = hub.link()
    assert await ask(link) == b"x" and hub.endpoint.linked == 1
    revoke_certificates(hub.pki, identity=REGULATOR)
    reload = asyncio.ensure_future(hub.reloader.reload(cause="test"))
    await wait_until(lambda: hub.endpoint.linked == 0, "the observer's link closed by the reload")
    with pytest.raises(PeerUnavailable):
        await ask(link)  # the hub answers no more on the old link
    assert await reload == "loaded"
    with pytest.raises(PeerUnavailable):
        await ask(link)  # and refuses the handshake of the revoked certificate
    assert hub.endpoint.linked == 0
    hub.pki.issue(AUDITOR)  # while an observer whose certificate stands links as before
    assert await ask(hub.link(AUDITOR)) == b"x" and hub.endpoint.linked == 1


async def test_one_observer_name_holds_at_most_two_links(hub: Hub) -> None:
    links = [hub.link() for _ in range(3)]
    assert [await ask(link) for link in links[:2]] == [b"x", b"x"]
    with pytest.raises(PeerUnavailable, match="403"):
        await ask(links[2])
    assert hub.endpoint.links_refused["too_many_links"] == 1 and hub.endpoint.linked == 2
    await links[0].close()
    await wait_until(lambda: hub.endpoint.linked == 1, "the closed link released")
    assert await ask(links[2]) == b"x"  # a slot freed is a slot to take


async def test_an_observer_past_its_budget_is_refused_with_a_stable_code_until_it_refills(hub: Hub) -> None:
    link = hub.link()
    hub.clock.held_ms = hub.clock()  # no refill between the answer and the next question
    assert len(await ask(link, size=100 * 1024)) == 100 * 1024  # burst 64 KiB: answered, then in debt
    with pytest.raises(RequestFailed) as refused:
        await ask(link)
    assert refused.value.code == RATE_LIMITED
    assert hub.endpoint.refused[("regulator", "rate_limited")] == 1
    hub.clock.held_ms += 1000  # a second refills a debt of 36 KiB many times over
    assert await ask(link) == b"x"
    assert hub.endpoint.refused[("regulator", "rate_limited")] == 1


async def test_failed_requests_are_all_counted_and_logged_once_a_minute(hub: Hub) -> None:
    link = hub.link()
    with structlog.testing.capture_logs() as logged:
        for _ in range(3):
            with pytest.raises(RequestFailed) as failed:
                await link.request(cbor.encode({"kind": "write"}), timeout_s=DEADLINE_S)
            assert failed.value.code == "OBSERVER_READ_ONLY"
    assert hub.endpoint.failed[("regulator", "OBSERVER_READ_ONLY")] == 3
    assert [line["event"] for line in logged if line["event"] == "observer_request_failed"] == [
        "observer_request_failed"
    ]


def test_a_budget_refills_with_time_and_small_questions_cost_a_floor() -> None:
    now = [0]
    budget = AnswerBudget(lambda: now[0], burst_bytes=100_000, bytes_per_s=50_000)
    assert budget.may_answer("regulator")
    budget.charge("regulator", 150_000)
    assert not budget.may_answer("regulator")
    now[0] += 999  # 49 950 bytes back: still in debt
    assert not budget.may_answer("regulator")
    now[0] += 2
    assert budget.may_answer("regulator")
    for _ in range(10):
        budget.charge("regulator", 1)  # ten tiny answers cost ten floors, not ten bytes
    assert not budget.may_answer("regulator")

