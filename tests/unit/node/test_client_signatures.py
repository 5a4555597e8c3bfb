"""Client signatures: verified off the event loop, within a budget of bad ones per source address."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import AsyncIterator, Sequence
from pathlib import Path

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from hubledger_tools.netgen import generate_network
from ledger.keys import PrivateKey
from ledger.transaction import Transaction
from node import client_signatures
from node.api.app import build_api
from node.api.keys import SIGNATURES
from node.client_signatures import BadSignatureBudget
from node.runner import load_node_inputs
from node.service import Node

Served = tuple[Node, TestClient[web.Request, web.Application], Path]


def test_an_address_with_nothing_spent_is_not_tracked() -> None:
    budget = BadSignatureBudget(burst=10, per_s=5)
    assert budget.get_allowance("a", now=0) == 10
    assert not budget.is_in_debt("a", now=0)
    assert budget.get_retry_after_ms("a", now=0) == 0


def test_spending_the_burst_refuses_until_half_of_it_has_refilled() -> None:
    budget = BadSignatureBudget(burst=10, per_s=5)
    budget.charge("a", 4, now=0)
    assert budget.is_in_debt("a", now=0) and budget.get_allowance("a", now=0) == 6
    budget.charge("a", 6, now=0)
    assert budget.get_allowance("a", now=0) == 0
    assert budget.get_retry_after_ms("a", now=0) == 1000  # 5 tokens at 5 a second
    assert budget.get_retry_after_ms("a", now=600) == 400  # refilling, still refused below half
    assert budget.get_allowance("a", now=600) == 0
    assert budget.get_retry_after_ms("a", now=1000) == 0
    assert budget.get_allowance("a", now=1000) == 5
    assert budget.get_allowance("b", now=1000) == 10  # other addresses are not touched
    assert not budget.is_in_debt("a", now=3000)  # full again: forgotten


def test_the_budget_remembers_a_bounded_number_of_addresses() -> None:
    budget = BadSignatureBudget(burst=10, per_s=1, sources_max=3)
    for source in ("a", "b", "c", "d"):
        budget.charge(source, 10, now=0)
    assert budget.get_allowance("a", now=0) == 10  # the oldest was forgotten
    assert budget.get_allowance("d", now=0) == 0


@pytest.fixture
async def served(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Served]:
    generate_network(["beijing"], tmp_path / "net")
    monkeypatch.setenv("HUBLEDGER_API_BAD_SIGNATURES_BURST", "10")
    monkeypatch.setenv("HUBLEDGER_API_BAD_SIGNATURES_PER_S", "1")
    node = Node(*load_node_inputs(tmp_path / "net" / "beijing.toml"))
    client = TestClient(TestServer(build_api(node)))
    await client.start_server()
    yield node, client, tmp_path / "net" / "accounts"
    await client.close()
    node.kv.close()


def forged(node: Node, accounts: Path, nonce: int) -> Transaction:
    key = PrivateKey.load(accounts / "bank-beijing.pem")
    fields = {"chain_id": node.genesis.chain_id, "contract": "cbdc", "method": "transfer"}
    signed = Transaction.create(key, nonce=nonce, args={"to": "00" * 20, "amount": 1}, **fields)
    other = Transaction.create(key, nonce=nonce, args={"to": "00" * 20, "amount": 2}, **fields)
    return Transaction.from_json({**signed.to_json(), "signature": other.to_json()["signature"]})


async def test_signatures_are_verified_off_the_event_loop(
    served: Served, monkeypatch: pytest.MonkeyPatch
) -> None:
    node, client, accounts = served
    threads: list[str] = []
    original = Transaction.has_valid_signature

    def recording(transaction: Transaction) -> bool:
        threads.append(threading.current_thread().name)
        return original(transaction)

    monkeypatch.setattr(Transaction, "has_valid_signature", recording)
    key = PrivateKey.load(accounts / "bank-beijing.pem")
    good = Transaction.create(
        key,
        chain_id=node.genesis.chain_id,
        nonce=0,
        contract="cbdc",
        method="transfer",
        args={"to": "00" * 20, "amount": 1},
    )
    response = await client.post("/v1/transactions/batch", json={"transactions": [good.to_json()]})
    assert (await response.json())["results"][0]["status"] == "pending"
    response = await client.post("/v1/transactions", json=forged(node, accounts, 1).to_json())
    assert (await response.json())["error"]["code"] == "BAD_SIGNATURE"
    assert len(threads) == 2
    assert all(name.startswith("client-signatures") for name in threads), threads


async def test_a_client_sending_bad_signatures_is_refused_with_429_and_retry_after(
    served: Served, monkeypatch: pytest.MonkeyPatch
) -> None:
    node, client, accounts = served
    monkeypatch.setattr(client_signatures, "REFUSAL_DELAY_MS", 200)
    batch = [forged(node, accounts, nonce).to_json() for nonce in range(25)]
    response = await client.post("/v1/transactions/batch", json={"transactions": batch})
    assert response.status == 202
    codes = [result["error"]["code"] for result in (await response.json())["results"]]
    # Ten were checked (the burst), the rest left unchecked once the budget was spent.
    assert codes == ["BAD_SIGNATURE"] * 10 + ["TOO_MANY_BAD_SIGNATURES"] * 15

    for path, body in (("/v1/transactions/batch", {"transactions": batch}), ("/v1/transactions", batch[0])):
        started = time.monotonic()
        response = await client.post(path, json=body)
        assert time.monotonic() - started >= 0.2  # the refusal is held back: a flooder waits for it
        assert response.status == 429
        assert (await response.json())["error"]["code"] == "TOO_MANY_BAD_SIGNATURES"
        assert 1 <= int(response.headers["Retry-After"]) <= 5
    assert len(node.mempool) == 0
    metrics = await (await client.get("/metrics")).text()
    for outcome, count in (("bad", 10), ("unchecked", 15), ("refused", 2)):
        assert f'hubledger_client_signatures_total{{outcome="{outcome}"}} {count}.0' in metrics


async def test_a_client_in_debt_is_checked_one_request_at_a_time(served: Served) -> None:
    node, client, accounts = served
    response = await client.post("/v1/transactions", json=forged(node, accounts, 0).to_json())
    assert (await response.json())["error"]["code"] == "BAD_SIGNATURE"
    assert client.app is not None
    signatures = client.app[SIGNATURES]
    inside = 0
    most = 0
    original = signatures.verify

    async def counting(source: str, transactions: Sequence[Transaction]) -> list[bool | None]:
        nonlocal inside, most
        inside += 1
        most = max(most, inside)
        await asyncio.sleep(0.01)
        try:
            return await original(source, transactions)
        finally:
            inside -= 1

    signatures.verify = counting  # type: ignore[method-assign]
    answers = await asyncio.gather(
        *(client.post("/v1/transactions", json=forged(node, accounts, n).to_json()) for n in range(1, 5))
    )
    assert [answer.status for answer in answers] == [400] * 4
    assert most == 1
