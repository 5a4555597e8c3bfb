"""The client library goes to another hub when one cannot serve, resubmits the same signed bytes,
reads its own writes, and says a transaction is pending, not failed, when its wait runs out."""

from __future__ import annotations

import ipaddress
import json
import socket
import ssl
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from hubledger_client import Client, ClientError, NodeUnreachable, TransactionPending
from hubledger_client.failover import parse_hub_urls
from hubledger_client.tls import make_client_context
from hubledger_tools.pki import NetworkPki, PkiLayout
from ledger.keys import PrivateKey
from ledger.tls_identity import Identity, Role
from ledger.transaction import Transaction

Answer = Callable[[web.Request], web.Response]


@dataclass
class StubHub:
    """A hub's API reduced to what the client asks; ``answer`` decides each reply."""

    answer: Answer
    requests: list[tuple[str, str, bytes]] = field(default_factory=list)  # (method, path_qs, body)

    async def handle(self, request: web.Request) -> web.Response:
        self.requests.append((request.method, request.path_qs, await request.read()))
        return self.answer(request)


def refuse(code: str) -> Answer:
    return lambda _: web.json_response({"error": {"code": code, "message": "not now"}}, status=503)


def accept(_: web.Request) -> web.Response:
    return web.json_response({"id": TRANSACTION.id.hex(), "status": "pending"}, status=202)


KEY = PrivateKey.generate()
TRANSACTION = Transaction.create(
    KEY, chain_id="test", nonce=4, contract="cbdc", method="transfer", args={"to": "00" * 20, "amount": 1}
)


@pytest.fixture
async def serve() -> AsyncIterator[Callable[..., Any]]:
    servers: list[TestServer] = []

    async def start(hub: StubHub, tls: ssl.SSLContext | None = None) -> str:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", hub.handle)
        server = TestServer(app, host="127.0.0.1")
        await server.start_server(ssl=tls)
        servers.append(server)
        return str(server.make_url("")).rstrip("/")

    yield start
    for server in servers:
        await server.close()


def closed_port_url() -> str:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}"  # nothing listens once the probe is closed


def test_hubs_are_one_url_several_separated_by_commas_or_a_list() -> None:
    assert parse_hub_urls("http://a:1/, http://b:2") == ["http://a:1", "http://b:2"]
    assert parse_hub_urls(["http://a:1"]) == ["http://a:1"]
    with pytest.raises(ValueError, match="no hub URL"):
        parse_hub_urls(" , ")


async def test_a_submission_refused_or_unreachable_goes_to_the_next_hub_as_the_same_bytes(
    serve: Callable[[StubHub], Any],
) -> None:
    no_quorum, behind, taker = StubHub(refuse("NO_QUORUM")), StubHub(refuse("BEHIND")), StubHub(accept)
    urls = [await serve(no_quorum), closed_port_url(), await serve(behind), await serve(taker)]
    async with Client(urls) as client:
        assert await client.submit(TRANSACTION) == TRANSACTION.id.hex()
        assert client.hubs.current == urls[3]  # asked first from now on
    bodies = {body for hub in (no_quorum, behind, taker) for _, _, body in hub.requests}
    assert len(bodies) == 1  # one signed transaction, never a new one
    assert [len(hub.requests) for hub in (no_quorum, behind, taker)] == [1, 1, 1]


async def test_every_hub_refusing_is_retried_in_rounds_then_raised_and_nothing_reachable_at_once(
    serve: Callable[[StubHub], Any],
) -> None:
    hubs = [StubHub(refuse("NO_QUORUM")), StubHub(refuse("BUSY"))]
    async with Client([await serve(hub) for hub in hubs]) as client:
        with pytest.raises(ClientError) as refused:
            await client.submit(TRANSACTION, busy_retries=2)
    assert refused.value.code in ("NO_QUORUM", "BUSY")
    assert [len(hub.requests) for hub in hubs] == [3, 3]
    dead = [closed_port_url(), closed_port_url()]
    async with Client(dead) as client:
        with pytest.raises(NodeUnreachable) as unreachable:
            await client.submit(TRANSACTION)
    assert unreachable.value.code == "UNREACHABLE"
    message = unreachable.value.message
    assert message.startswith("none of the 2 hubs given answers: ")
    assert all(f"{url}: nothing listens on" in message for url in dead)  # each hub's own reason


async def test_a_hub_that_is_no_client_api_is_passed_over(serve: Callable[[StubHub], Any]) -> None:
    peer_port = StubHub(lambda _: web.Response(body=b"\x00\x01 not json", status=200))
    taker = StubHub(accept)
    async with Client([await serve(peer_port), await serve(taker)]) as client:
        assert await client.submit(TRANSACTION) == TRANSACTION.id.hex()
    async with Client(await serve(peer_port)) as client:  # one hub: its own reason, as it was
        with pytest.raises(NodeUnreachable, match="not JSON; is this a hub's client API port") as alone:
            await client.get_status()
    assert (alone.value.code, alone.value.hub) == ("NOT_AN_API", client.base_url)


def serve_as_hub(directory: Path, network: str) -> ssl.SSLContext:
    """A server context with a hub certificate (127.0.0.1) of a new network CA in ``directory``."""
    pki = NetworkPki.create(PkiLayout.of(directory / network), network)
    hub = Identity(Role.HUB, "beijing")
    pki.issue(hub, ip_addresses=(ipaddress.ip_address("127.0.0.1"),))
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(pki.layout.certificate(hub), pki.layout.key(hub))
    return context


async def test_a_hub_of_another_ca_is_passed_over_and_alone_says_to_give_the_ca(
    serve: Callable[..., Any], tmp_path: Path
) -> None:
    ours = serve_as_hub(tmp_path, "ours")
    trusted = make_client_context(PkiLayout.of(tmp_path / "ours").ca_certificate)
    impostor, taker = StubHub(accept), StubHub(accept)
    impostor_url = await serve(impostor, serve_as_hub(tmp_path, "elsewhere"))
    assert impostor_url.startswith("https://")
    async with Client([impostor_url, await serve(taker, ours)], ssl_context=trusted) as client:
        assert await client.submit(TRANSACTION) == TRANSACTION.id.hex()
    assert impostor.requests == [] and len(taker.requests) == 1  # nothing sent past a bad handshake
    async with Client(impostor_url, ssl_context=trusted) as client:
        with pytest.raises(NodeUnreachable, match=r"not one this client trusts.*--ca FILE") as alone:
            await client.get_status()
    assert (alone.value.code, alone.value.hub) == ("UNTRUSTED", impostor_url)


async def test_a_bad_request_is_not_sent_elsewhere(serve: Callable[[StubHub], Any]) -> None:
    bad = StubHub(
        lambda _: web.json_response({"error": {"code": "NONCE_REPLAYED", "message": "used"}}, status=400)
    )
    other = StubHub(accept)
    async with Client([await serve(bad), await serve(other)]) as client:
        with pytest.raises(ClientError, match="NONCE_REPLAYED"):
            await client.submit(TRANSACTION)
    assert other.requests == []


async def test_waiting_offers_the_same_bytes_to_a_hub_that_lost_them_then_reads_its_own_writes(
    serve: Callable[[StubHub], Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("hubledger_client.client.RESUBMIT_INTERVAL_S", 0.0)
    submitted: list[bytes] = []

    def hub_answer(request: web.Request) -> web.Response:
        if request.method == "POST":
            submitted.append(b"")
            return accept(request)
        if request.path.startswith("/v1/transactions/"):
            if not submitted:
                return web.json_response({"id": TRANSACTION.id.hex(), "status": "unknown", "at_height": 6})
            record = {"id": TRANSACTION.id.hex(), "status": "committed", "height": 7, "receipt": {}}
            return web.json_response({**record, "at_height": 7})
        if request.path == "/v1/status":
            return web.json_response({"chain_id": "test"})
        return web.json_response({"nonce": 5, "at_height": 7})

    hub = StubHub(hub_answer)
    async with Client(await serve(hub)) as client:
        record = await client.wait(TRANSACTION, timeout_ms=5000)
        assert (record["status"], client.committed_height) == ("committed", 7)
        await client.get_account("ab" * 20, signer=KEY)
    posts = [body for method, _, body in hub.requests if method == "POST"]
    assert [Transaction.from_json(json.loads(body)).id for body in posts] == [TRANSACTION.id]
    assert hub.requests[-1][1] == f"/v1/accounts/{'ab' * 20}?min_height=7"


async def test_a_wait_that_runs_out_says_pending_and_that_the_same_transaction_is_the_safe_retry(
    serve: Callable[[StubHub], Any],
) -> None:
    hub = StubHub(
        lambda _: web.json_response({"id": TRANSACTION.id.hex(), "status": "pending", "at_height": 3})
    )
    async with Client(await serve(hub)) as client:
        with pytest.raises(TransactionPending) as pending:
            await client.wait(TRANSACTION, timeout_ms=100)
    message = str(pending.value)
    assert pending.value.status == "pending"
    assert (
        f"transaction {TRANSACTION.id.hex()} (nonce 4) is still pending after 100 ms and may yet commit"
        in message
    )
    assert "resubmit the same signed transaction or reuse the same nonce" in message
    assert isinstance(pending.value, TimeoutError)  # scripts that caught the old TimeoutError still do
