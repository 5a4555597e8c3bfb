"""/readyz says not ready when behind; /v1/events replays from a height, then follows commits, by account."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from hubledger_client.client import Client
from ledger.types import ValidatorIndex, View
from node.api.app import build_api
from node.api.events import is_involved
from node.peer_status import PEER_STATUS, HubStatus
from node.runner import load_node_inputs
from node.service import Node
from tests.unit.node.audit_chain import AuditChain, build_audit_chain

Served = tuple[Node, TestClient[web.Request, web.Application]]


@pytest.fixture
def audit(tmp_path: Path) -> AuditChain:
    return build_audit_chain(tmp_path / "net", block_count=4, transfers_per_block=2)


@pytest.fixture
async def served(audit: AuditChain) -> AsyncIterator[Served]:
    node = Node(*load_node_inputs(audit.directory / "beijing.toml"))
    client = TestClient(TestServer(build_api(node)))
    await client.start_server()
    yield node, client
    await client.close()
    node.kv.close()


def peer_status(name: str, height: int) -> HubStatus:
    return HubStatus(name, height, 0, "beijing", (), 0, 0, False, received_ms=2**62)  # far future: fresh


async def test_ready_only_when_linked_to_a_quorum_and_not_behind(served: Served) -> None:
    node, client = served
    response = await client.get("/readyz")
    assert response.status == 503
    assert (await response.json())["error"]["message"] == "connected to 0 peers; a quorum needs 2"
    node.network.connected_peers = lambda: [1, 2, 3]  # type: ignore[method-assign]
    response = await client.get("/readyz")  # linked, but no peer has answered its status poll yet
    assert (await response.json())["error"]["message"].startswith("this hub reaches 1 of the 3 hubs")
    board = client.app[PEER_STATUS]
    board._statuses["hangzhou"] = peer_status("hangzhou", 0)
    board._statuses["shanghai"] = peer_status("shanghai", 1000)  # one peer alone may lie
    assert (await client.get("/readyz")).status == 200
    board._statuses["shenzhen"] = peer_status("shenzhen", 7)
    response = await client.get("/readyz")
    assert response.status == 503
    document = await response.json()
    assert document["error"] == {
        "code": "NOT_READY",
        "message": "behind: peers are at height 7, this node at 0 (7 blocks)",
    }
    del board._statuses["shenzhen"]
    node.fetches.in_flight = 1
    response = await client.get("/readyz")
    assert (await response.json())["error"][
        "message"
    ] == "catching up: fetching blocks from peers (at height 0)"


async def test_not_ready_while_the_replica_cannot_take_part_in_ordering(served: Served) -> None:
    node, client = served
    node.network.connected_peers = lambda: [1, 2, 3]  # type: ignore[method-assign]
    for hub in ("shanghai", "shenzhen", "hangzhou"):
        client.app[PEER_STATUS]._statuses[hub] = peer_status(hub, 0)
    replica = node.replica
    replica._view, replica._changing = View(replica._view + 1), True  # as after a VIEW-CHANGE it sent alone
    response = await client.get("/readyz")
    assert response.status == 503
    assert (await response.json())["error"]["message"] == "changing view: waiting for the NEW-VIEW of view 1"
    for peer in (1, 2):  # f + 1 peers commit in view 0 meanwhile
        replica._peer_views[ValidatorIndex(peer)] = (View(0), replica._now_ms)
    response = await client.get("/readyz")
    assert (await response.json())["error"]["message"] == (
        "alone in view 1: 2 peers commit in view 0; following them by state transfer until they change view"
    )


async def test_events_replay_from_a_height_then_follow_commits(served: Served, audit: AuditChain) -> None:
    node, client = served
    for height in (1, 2, 3):
        audit.commit_into(node.chain, height)
    async with client.ws_connect("/v1/events?from_height=2") as ws:
        replayed = [await ws.receive_json() for _ in range(6)]  # blocks 2 and 3: two receipts, then the block
        assert [(event["type"], event["height"]) for event in replayed] == [
            ("receipt", 2),
            ("receipt", 2),
            ("block", 2),
            ("receipt", 3),
            ("receipt", 3),
            ("block", 3),
        ]
        assert replayed[2]["hash"] == audit.blocks[1][0].hash.hex()
        assert replayed[0]["id"] == audit.blocks[1][0].transactions[0].id.hex()
        _commit_and_notify(node, audit, 4)
        live = [await ws.receive_json() for _ in range(3)]
        assert [(event["type"], event["height"]) for event in live] == [
            ("receipt", 4),
            ("receipt", 4),
            ("block", 4),
        ]


async def test_an_account_filter_keeps_blocks_and_only_that_accounts_receipts(
    served: Served, audit: AuditChain
) -> None:
    node, client = served
    audit.commit_into(node.chain, 1)
    regulator = audit.account_key("regulator").public_key.address.hex()
    receiver = audit.account_key("bank-shanghai").public_key.address.hex()
    async with client.ws_connect(f"/v1/events?from_height=1&account={regulator}") as ws:
        assert (await ws.receive_json())["type"] == "block"
    async with client.ws_connect(f"/v1/events?from_height=1&account={receiver.upper()}") as ws:
        assert [(await ws.receive_json())["type"] for _ in range(3)] == ["receipt", "receipt", "block"]
    response = await client.get("/v1/events?from_height=0")
    assert (response.status, (await response.json())["error"]["code"]) == (400, "BAD_IDENTIFIER")


async def test_the_client_library_follows_events(served: Served, audit: AuditChain) -> None:
    node, client = served
    audit.commit_into(node.chain, 1)
    seen: list[Any] = []
    async with Client(str(client.make_url(""))) as library:
        async for event in library.follow_events(from_height=1, reconnect=False):
            seen.append((event["type"], event["height"]))
            if event["type"] == "block" and event["height"] == 1:
                _commit_and_notify(node, audit, 2)
            if event["type"] == "block" and event["height"] == 2:
                break
    assert seen == [
        ("receipt", 1),
        ("receipt", 1),
        ("block", 1),
        ("receipt", 2),
        ("receipt", 2),
        ("block", 2),
    ]


def test_involvement_is_the_sender_an_argument_or_an_event() -> None:
    from ledger.receipt import Event, Receipt

    account = "ab" * 20
    assert is_involved(account, account, {}, Receipt(success=True))
    assert is_involved(account, "cd" * 20, {"legs": [{"to": account.upper()}]}, Receipt(success=True))
    assert is_involved(account, "cd" * 20, {}, Receipt(True, events=(Event("Net", {"who": account}),)))
    assert not is_involved(account, "cd" * 20, {"to": "ef" * 20}, Receipt(success=True))


def _commit_and_notify(node: Node, audit: AuditChain, height: int) -> None:
    audit.commit_into(node.chain, height)
    block, certificate = audit.blocks[height - 1]
    for listener in node._listeners:
        listener(block, certificate, audit.results[height - 1])
