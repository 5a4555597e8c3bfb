"""The blocking client against a real node: a context manager whose follow_events is a plain iterator,
and one error, NodeUnreachable, for a URL where no client API answers."""

from __future__ import annotations

import asyncio
import tomllib
from collections.abc import Iterator

import pytest

from hubledger_client import Client, NodeUnreachable, SyncClient
from tests.integration.harness import LocalNetwork


@pytest.fixture(scope="module")
def network(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalNetwork]:
    network = LocalNetwork(tmp_path_factory.mktemp("sync") / "net", ["beijing"])
    network.start_all()
    yield network
    network.stop_all()


def test_sync_client_is_a_context_manager_that_follows_events(network: LocalNetwork) -> None:
    bank = network.account_key("bank-beijing")
    central = network.account_key("central-bank")
    with SyncClient(network.url("beijing"), ssl_context=network.context) as client:
        record = client.call(bank, "cbdc", "transfer", {"to": central.public_key.address.hex(), "amount": 7})
        assert record["status"] == "committed" and record["receipt"]["success"]
        seen = []
        for event in client.follow_events(from_height=record["height"], reconnect=False):
            seen.append(event)
            if event["type"] == "block":
                break
    assert [event["type"] for event in seen] == ["receipt", "block"]
    assert seen[0]["id"] == record["id"] and seen[1]["height"] == record["height"]


def test_a_closed_port_and_a_peer_port_are_node_unreachable(network: LocalNetwork) -> None:
    config = tomllib.loads((network.directory / "beijing.toml").read_text())
    peer_url = f"https://127.0.0.1:{config['p2p']['port']}"  # it wants a peer's certificate
    closed_url = "http://127.0.0.1:1"

    async def ask(url: str) -> NodeUnreachable:
        async with Client(url, ssl_context=network.context) as client:
            with pytest.raises(NodeUnreachable) as refused:
                await client.get_status()
            return refused.value

    peer = asyncio.run(ask(peer_url))
    # Over TLS the peer port ends the handshake (it wants a peer's certificate) before any HTTP.
    assert peer.code == "UNREACHABLE" and "client API port" in peer.message
    closed = asyncio.run(ask(closed_url))
    assert closed.code == "UNREACHABLE" and "connection refused" in closed.message
