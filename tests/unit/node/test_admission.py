"""Admission control: a node whose backlog would take too long to commit answers BUSY and keeps nothing."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from hubledger_client.client import Client, get_busy_delay_s
from hubledger_client.errors import ClientError
from hubledger_tools.netgen import generate_network
from ledger.keys import PrivateKey
from ledger.transaction import Transaction
from node.admission import RATE_WINDOW_MS, AdmissionControl
from node.api.app import build_api
from node.runner import load_node_inputs
from node.service import Node

Served = tuple[Node, TestClient[web.Request, web.Application], Path]


def test_below_the_floor_nothing_is_refused_even_with_no_commits_yet() -> None:
    admission = AdmissionControl(backlog_max_ms=1000, backlog_floor=100)
    assert not admission.is_busy(99, now_ms=0)
    assert admission.is_busy(100, now_ms=0)


def test_the_backlog_allowed_is_what_the_recent_commit_rate_clears_in_time() -> None:
    admission = AdmissionControl(backlog_max_ms=2000, backlog_floor=10)
    admission.on_committed(2500, now_ms=1000)  # 2,500 in the window: 500 tx/s, so 1,000 may wait
    assert admission.get_rate_per_s(now_ms=1000) == 500
    assert not admission.is_busy(999, now_ms=1000)
    assert admission.is_busy(1000, now_ms=1000)


def test_commits_older_than_the_window_stop_counting() -> None:
    admission = AdmissionControl(backlog_max_ms=2000, backlog_floor=10)
    admission.on_committed(2500, now_ms=1000)
    assert admission.get_rate_per_s(now_ms=1000 + RATE_WINDOW_MS) == 0
    assert admission.is_busy(10, now_ms=1000 + RATE_WINDOW_MS)


@pytest.fixture
async def served(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Served]:
    generate_network(["beijing"], tmp_path / "net")
    monkeypatch.setenv("HUBLEDGER_MEMPOOL_BACKLOG_FLOOR", "1")  # one waiting transaction is a backlog
    node = Node(*load_node_inputs(tmp_path / "net" / "beijing.toml"))
    client = TestClient(TestServer(build_api(node)))
    await client.start_server()
    yield node, client, tmp_path / "net" / "accounts"
    await client.close()
    node.kv.close()


def hand_out(node: Node, transaction: Transaction) -> None:
    """Admit ``transaction`` and hand it to consensus, as submit does, without committing it."""
    assert node.mempool.add(transaction, 0)
    assert node.mempool.take_ready([transaction.sender_address], lambda address: 0) == [transaction]


def make_transfer(node: Node, accounts: Path, nonce: int) -> Transaction:
    bank = PrivateKey.load(accounts / "bank-beijing.pem")
    to = PrivateKey.load(accounts / "central-bank.pem").public_key.address.hex()
    return Transaction.create(
        bank,
        chain_id=node.genesis.chain_id,
        nonce=nonce,
        contract="cbdc",
        method="transfer",
        args={"to": to, "amount": 1},
    )


async def test_a_busy_node_refuses_new_transactions_and_keeps_nothing(served: Served) -> None:
    node, client, accounts = served
    waiting = make_transfer(node, accounts, nonce=0)
    hand_out(node, waiting)
    fresh = make_transfer(node, accounts, nonce=1)

    response = await client.post("/v1/transactions", json=fresh.to_json())
    assert response.status == 503
    error = (await response.json())["error"]
    assert error["code"] == "BUSY" and "retry shortly" in error["message"]
    assert fresh.id not in node.mempool and len(node.mempool) == 1

    batch = await client.post("/v1/transactions/batch", json={"transactions": [fresh.to_json()]})
    assert batch.status == 202
    assert (await batch.json())["results"][0]["error"]["code"] == "BUSY"
    assert fresh.id not in node.mempool


async def test_resubmitting_a_waiting_transaction_is_answered_even_when_busy(served: Served) -> None:
    node, client, accounts = served
    waiting = make_transfer(node, accounts, nonce=0)
    hand_out(node, waiting)
    response = await client.post("/v1/transactions", json=waiting.to_json())
    assert response.status == 202
    assert (await response.json())["status"] == "pending"


def test_clients_back_off_from_a_busy_node_doubling_their_pause_up_to_a_bound() -> None:
    # The client library and the bench share it: a fixed pause kept an overloaded node busy refusing.
    assert [get_busy_delay_s(attempt) for attempt in range(7)] == [0.1, 0.2, 0.4, 0.8, 1.6, 1.6, 1.6]
    assert get_busy_delay_s(10_000) == 1.6


async def test_the_client_library_offers_a_refused_transaction_again(served: Served) -> None:
    node, client, accounts = served
    waiting = make_transfer(node, accounts, nonce=0)
    hand_out(node, waiting)
    fresh = make_transfer(node, accounts, nonce=1)
    calls = 0
    handler = node.is_busy

    def busy_twice() -> bool:
        nonlocal calls
        calls += 1
        if calls == 3:  # the backlog clears while the client waits (its third offer)
            node.mempool.remove_committed([waiting])
        return handler()

    node.is_busy = busy_twice  # type: ignore[method-assign]
    async with Client(str(client.make_url("")).rstrip("/")) as library:
        assert await library.submit(fresh) == fresh.id.hex()
        assert calls == 4  # refused twice, then asked once before decoding and once after
        node.is_busy = lambda: True  # type: ignore[method-assign]
        with pytest.raises(ClientError) as refused:
            await library.submit(make_transfer(node, accounts, nonce=2), busy_retries=1)
        assert refused.value.code == "BUSY" and calls == 4


async def test_a_busy_node_refuses_a_batch_without_checking_one_signature(served: Served) -> None:
    # Under overload the refusals are most of what arrives: verifying each before refusing it
    # spent the node's time on retries instead of on committing.
    node, client, accounts = served
    hand_out(node, make_transfer(node, accounts, nonce=0))
    checked = 0
    verify = node.application.has_valid_signature

    def counting(transaction: Transaction) -> bool:
        nonlocal checked
        checked += 1
        return verify(transaction)

    node.application.has_valid_signature = counting  # type: ignore[method-assign]
    offered = [make_transfer(node, accounts, nonce=nonce).to_json() for nonce in range(1, 21)]
    batch = await client.post("/v1/transactions/batch", json={"transactions": offered})
    results = (await batch.json())["results"]
    assert [result["error"]["code"] for result in results] == ["BUSY"] * 20
    assert checked == 0 and len(node.mempool) == 1


async def test_a_busy_node_decodes_only_what_it_may_hold(
    served: Served, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Clients offering refused transactions again are most of an overloaded node's traffic:
    # each is refused by its signature alone, and only one the node holds is decoded.
    node, client, accounts = served
    waiting = make_transfer(node, accounts, nonce=0)
    hand_out(node, waiting)
    decoded = 0
    from_json = Transaction.from_json

    def counting(document: object) -> Transaction:
        nonlocal decoded
        decoded += 1
        return from_json(document)

    monkeypatch.setattr(Transaction, "from_json", staticmethod(counting))
    offered = [make_transfer(node, accounts, nonce=nonce).to_json() for nonce in range(1, 11)]
    items = [waiting.to_json(), *offered, {"signature": "not hex"}]
    batch = await client.post("/v1/transactions/batch", json={"transactions": items})
    results = (await batch.json())["results"]
    assert results[0] == {"id": waiting.id.hex(), "status": "pending"}
    assert [result["error"]["code"] for result in results[1:]] == ["BUSY"] * 11
    assert decoded == 1 and len(node.mempool) == 1
