"""The regulator's observer on a live four-hub network, one hub of which forges the blocks it serves.

Hangzhou runs ``serve_forged_blocks`` (node/byzantine.py): it votes honestly
but alters the last block of every block-fetch answer. The observer must
name Hangzhou in a tamper alert (log line, metric, status page), keep
following the chain from the honest hubs, and answer reads exactly as the
validators do. A consensus message sent over an observer link is refused
by the hub and changes nothing.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
import tomllib
import urllib.request
from collections.abc import Iterator
from typing import Any

import aiohttp
import pytest

from consensus.messages import ViewChange, sign_message
from hubledger_tools.netgen import NetworkLayout, observer_config_name
from hubledger_tools.ports import find_port_base
from hubledger_tools.trust import GENERATED_NETWORKS
from ledger import cbor
from ledger.keys import PrivateKey
from ledger.read_auth import sign_read
from ledger.tls_identity import Identity, Role
from ledger.types import Hash, Height, ValidatorIndex, View
from p2p.envelope import Frame, FrameKind, decode_frame, encode_frame
from p2p.tls import TlsFiles, make_client_context
from tests.integration.harness import (
    LocalNetwork,
    Submitter,
    http_json,
    signed_get,
    wait_committed_on,
    wait_for,
)

HUBS = ["beijing", "shanghai", "shenzhen", "hangzhou"]
FORGER = "hangzhou"


class Observer:
    """The observer process netgen configured, on its own API port."""

    def __init__(self, network: LocalNetwork, port: int) -> None:
        self.network = network
        self.url = f"https://127.0.0.1:{port}"
        self.log_path = network.directory / "observer.log"
        config = network.directory / observer_config_name("regulator")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "hubledger_tools.cli", "node", "--config", str(config)],
            stdout=self.log_path.open("ab"),
            stderr=subprocess.STDOUT,
            env=network.env,
        )
        wait_for(self._healthy, what="the observer to answer /healthz")

    def _healthy(self) -> bool:
        if self.process.poll() is not None:
            raise AssertionError(f"the observer exited: {self.log_path.read_text()[-3000:]}")
        return http_json(self.url + "/healthz", timeout_s=1.0)[0] == 200

    def status(self) -> dict[str, Any]:
        code, document = http_json(self.url + "/v1/status")
        assert code == 200, document
        return dict(document)

    def log_events(self, event: str) -> list[dict[str, Any]]:
        lines = self.log_path.read_text().splitlines()
        return [record for record in map(_parse, lines) if record.get("event") == event]

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=15)


@pytest.fixture(scope="module")
def watched(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[LocalNetwork, Observer]]:
    base = find_port_base(2 * len(HUBS) + 1)
    layout = NetworkLayout(
        api_port_base=base, p2p_port_base=base + len(HUBS), observer_api_port_base=base + 2 * len(HUBS)
    )
    network = LocalNetwork(tmp_path_factory.mktemp("observer"), HUBS, layout=layout)
    observer = None
    try:
        for hub in HUBS:
            env = {"HUBLEDGER_NODE_BYZANTINE": "serve_forged_blocks"} if hub == FORGER else None
            network.start(hub, env=env)
        observer = Observer(network, base + 2 * len(HUBS))
        yield network, observer
    finally:
        if observer is not None:
            observer.stop()
        network.stop_all()


def test_observer_names_the_forging_hub_and_still_follows_the_chain(
    watched: tuple[LocalNetwork, Observer],
) -> None:
    network, observer = watched
    submitter = Submitter(network, "bank-beijing", "bank-shanghai")
    transactions = [submitter.transfer("beijing", amount=7) for _ in range(3)]
    target = max(int(wait_committed_on(network, "beijing", tx)["height"]) for tx in transactions)

    def alerted_at_target() -> dict[str, Any] | None:
        status = observer.status()
        # Each hub is reachable from its first answer over its own link, whenever that comes.
        answered = all(hub["reachable"] for hub in status["hubs"] if hub["name"] != FORGER)
        return status if status["height"] >= target and status["alerts"]["count"] > 0 and answered else None

    status = wait_for(
        alerted_at_target, what=f"the observer to reach height {target}, raise an alert and hear every hub"
    )
    assert {alert["hub"] for alert in status["alerts"]["recent"]} == {FORGER}
    assert {alert["reason"] for alert in status["alerts"]["recent"]} <= {
        "bad_certificate",
        "conflicting_block",
    }
    honest = [hub for hub in status["hubs"] if hub["name"] != FORGER]
    assert all(hub["alerts"] == 0 and hub["reachable"] for hub in honest), status["hubs"]

    alerts = observer.log_events("observer_tamper_alert")
    assert alerts and all(record["level"] == "error" and record["hub"] == FORGER for record in alerts)
    metrics = _text(observer.url + "/metrics")
    assert f'hubledger_observer_invalid_answers_total{{hub="{FORGER}",reason=' in metrics
    page = _text(observer.url + "/")
    assert "TAMPER ALERT" in page and f'data-hub="{FORGER}"' in page

    # The chain it verified is the validators' chain, and its reads are theirs.
    assert observer.status()["height"] >= target
    hashes = [http_json(f"{observer.url}/v1/blocks/{height}")[1]["hash"] for height in range(1, target + 1)]
    assert hashes == network.block_hashes("beijing", target)
    regulator = network.account_key("regulator")
    address = network.genesis.accounts[
        3
    ].address.hex()  # bank-shanghai (netgen: central bank, regulator, banks)
    wait_for(
        lambda: observer.status()["height"] >= network.height("beijing"), what="the observer to catch up"
    )
    code, on_hub = signed_get(network, "beijing", f"/v1/accounts/{address}", regulator)
    observed_code, observed = _signed_get_at(observer.url, network, f"/v1/accounts/{address}", regulator)
    assert (code, observed_code) == (200, 200)
    assert observed["balance"] == on_hub["balance"]
    assert on_hub["balance"] == 10_000_000_000 + 3 * 7  # the transfers are in it: not a stale read
    assert http_json(observer.url + "/readyz")[0] == 200
    events = asyncio.run(_read_block_events(observer.url, target))
    assert [event["height"] for event in events] == list(range(1, target + 1))
    assert [event["hash"] for event in events] == hashes


def test_observer_refuses_submissions(watched: tuple[LocalNetwork, Observer]) -> None:
    _, observer = watched
    code, answer = http_json(observer.url + "/v1/transactions", {"anything": 1}, method="POST")
    assert code == 403
    assert answer["error"]["code"] == "OBSERVER_READ_ONLY"
    assert "submit them to a hub" in answer["error"]["message"]


def test_hub_refuses_a_consensus_message_over_an_observer_link(
    watched: tuple[LocalNetwork, Observer],
) -> None:
    network, _ = watched
    hub = "shanghai"
    view_before = network.status(hub)["view"]
    # Even a message a validator really signed is refused when it comes over an observer link.
    body = ViewChange(View(view_before + 5), Height(0), Hash(bytes(32)), (), ())
    message = sign_message(
        body,
        chain_id=network.genesis.chain_id,
        sender=ValidatorIndex(0),
        key=PrivateKey.load(network.directory / "keys" / "beijing.pem"),
    )
    answer = asyncio.run(_send_over_observer_link(network, hub, message.encode()))
    assert answer.kind is FrameKind.RESPONSE  # the link still answers questions after the refusal
    assert "blocks" in cbor.decode(answer.payload, bytes_max=64 * 1024 * 1024)

    metrics = _text(network.url(hub) + "/metrics")
    assert (
        'hubledger_observer_messages_refused_total{observer="regulator",reason="consensus_message"} 1.0'
        in metrics
    )
    assert '"observer_message_refused"' in network.log_text(hub)
    submitter = Submitter(network, "bank-shenzhen", "bank-beijing")
    transaction = submitter.transfer("shenzhen", amount=1)
    for other in HUBS:
        wait_committed_on(network, other, transaction)
    assert network.status(hub)["view"] == view_before


async def _send_over_observer_link(network: LocalNetwork, hub: str, payload: bytes) -> Frame:
    certificate, key = network.client_files(Identity(Role.OBSERVER, "regulator"))
    files = TlsFiles(network.ca_file, certificate, key, network.directory / "tls" / "crl.pem")
    url = _load_peer_url(network, hub)
    async with (
        aiohttp.ClientSession() as session,
        session.ws_connect(url, ssl=make_client_context(files)) as ws,
    ):
        await ws.send_bytes(encode_frame(Frame(FrameKind.MESSAGE, 0, payload)))
        request = cbor.encode({"kind": "get_blocks", "from": 1, "to": 1})
        await ws.send_bytes(encode_frame(Frame(FrameKind.REQUEST, 1, request)))
        reply = await ws.receive(timeout=10)
        return decode_frame(reply.data, payload_bytes_max=64 * 1024 * 1024)


async def _read_block_events(url: str, count: int) -> list[dict[str, Any]]:
    """The first ``count`` block messages of the observer's event stream, from height 1."""
    blocks: list[dict[str, Any]] = []
    async with (
        aiohttp.ClientSession() as session,
        session.ws_connect(
            f"{url.replace('https://', 'wss://')}/v1/events?from_height=1", ssl=GENERATED_NETWORKS
        ) as ws,
    ):
        while len(blocks) < count:
            message = await ws.receive_json(timeout=10)
            if message["type"] == "block":
                blocks.append(message)
    return blocks


def _load_peer_url(network: LocalNetwork, hub: str) -> str:
    config = tomllib.loads((network.directory / observer_config_name("regulator")).read_text())
    return str(config["p2p"]["peers"][hub])


def _signed_get_at(url: str, network: LocalNetwork, path: str, key: PrivateKey) -> tuple[int, Any]:
    now_ms = time.time_ns() // 1_000_000
    headers = sign_read(key, chain_id=network.genesis.chain_id, method="GET", path=path, timestamp_ms=now_ms)
    return http_json(url + path, headers=headers)


def _text(url: str) -> str:
    with urllib.request.urlopen(url, context=GENERATED_NETWORKS, timeout=5) as response:
        return str(response.read().decode())


def _parse(line: str) -> dict[str, Any]:
    try:
        value = json.loads(line)
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def test_only_an_observer_certificate_opens_an_observer_link(watched: tuple[LocalNetwork, Observer]) -> None:
    network, _ = watched
    hub = "shenzhen"
    certificate, key = network.client_files(Identity(Role.BANK, "beijing"))
    files = TlsFiles(network.ca_file, certificate, key, network.directory / "tls" / "crl.pem")

    async def dial() -> int:
        async with aiohttp.ClientSession() as session:
            try:
                async with session.ws_connect(_load_peer_url(network, hub), ssl=make_client_context(files)):
                    return 101
            except aiohttp.WSServerHandshakeError as error:
                return error.status

    assert asyncio.run(dial()) == 403
    metrics = _text(network.url(hub) + "/metrics")
    assert 'hubledger_observer_links_refused_total{reason="not_an_observer"} 1.0' in metrics
