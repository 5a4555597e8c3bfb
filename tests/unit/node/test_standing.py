"""A hub without a quorum or behind refuses new transactions and nonce questions, keeping nothing;
every read says its height and answers BEHIND below a client's min_height."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from hubledger_tools.netgen import generate_network
from ledger.keys import PrivateKey
from ledger.read_auth import sign_read
from ledger.transaction import Transaction
from node.api.app import build_api
from node.clock import now_ms
from node.peer_status import PEER_STATUS, HubStatus
from node.runner import load_node_inputs
from node.service import Node
from node.standing import REACHABLE_MS

Served = tuple[Node, TestClient[web.Request, web.Application], Path]
HUBS = ["beijing", "shanghai", "shenzhen", "hangzhou"]


@pytest.fixture
async def served(tmp_path: Path) -> AsyncIterator[Served]:
    generate_network(HUBS, tmp_path / "net")
    node = Node(*load_node_inputs(tmp_path / "net" / "beijing.toml"))
    client = TestClient(TestServer(build_api(node)))
    await client.start_server()
    yield node, client, tmp_path / "net" / "accounts"
    await client.close()
    node.kv.close()


def answered(
    client: TestClient[web.Request, web.Application], *hubs: str, ago_ms: int = 0, height: int = 0
) -> None:
    """Record status answers from ``hubs``, received ``ago_ms`` ago, reporting ``height``."""
    board = client.app[PEER_STATUS]
    for hub in hubs:
        board._statuses[hub] = HubStatus(
            hub, height, 0, "beijing", (), 0, 0, False, received_ms=now_ms() - ago_ms
        )


async def post(
    client: TestClient[web.Request, web.Application], transaction: Transaction
) -> tuple[int, Any, str]:
    response = await client.post("/v1/transactions", json=transaction.to_json())
    return response.status, await response.json(), response.headers.get("Retry-After", "")


async def signed_get(
    client: TestClient[web.Request, web.Application], node: Node, key: PrivateKey, path: str
) -> tuple[int, Any]:
    headers = sign_read(key, chain_id=node.genesis.chain_id, method="GET", path=path, timestamp_ms=now_ms())
    response = await client.get(path, headers=headers)
    return response.status, await response.json()


async def test_a_hub_that_no_quorum_answered_lately_refuses_new_transactions_and_keeps_nothing(
    served: Served,
) -> None:
    node, client, accounts = served
    transaction = transaction_with_nonce(node, accounts, 0)
    status, answer, retry_after = await post(client, transaction)  # at start: no peer has answered yet
    assert (status, answer["error"]["code"], retry_after) == (503, "NO_QUORUM", "2")
    assert "reaches 1 of the 3 hubs a quorum needs" in answer["error"]["message"]
    assert len(node.mempool) == 0
    answered(client, "shanghai")  # one peer: two hubs of three
    assert (await post(client, transaction))[1]["error"]["code"] == "NO_QUORUM"
    answered(client, "shenzhen", ago_ms=REACHABLE_MS - 500)  # a peer quiet for a moment still counts
    status, answer, _ = await post(client, transaction)
    assert (status, answer["status"]) == (202, "pending")
    answered(client, "shanghai", "shenzhen", ago_ms=REACHABLE_MS + 1)  # silent too long: no quorum
    assert (await post(client, transaction_with_nonce(node, accounts, 1)))[1]["error"]["code"] == "NO_QUORUM"
    status, answer, _ = await post(client, transaction)  # what it holds is still answered with its fate
    assert (status, answer["status"]) == (202, "pending")
    assert len(node.mempool) == 1


def transaction_with_nonce(node: Node, accounts: Path, nonce: int) -> Transaction:
    receiver = PrivateKey.load(accounts / "bank-shanghai.pem").public_key.address.hex()
    return Transaction.create(
        PrivateKey.load(accounts / "bank-beijing.pem"),
        chain_id=node.genesis.chain_id,
        nonce=nonce,
        contract="cbdc",
        method="transfer",
        args={"to": receiver, "amount": 1},
    )


async def test_a_hub_behind_or_fetching_refuses_nonce_questions_and_new_transactions(served: Served) -> None:
    node, client, accounts = served
    bank = PrivateKey.load(accounts / "bank-beijing.pem")
    path = f"/v1/accounts/{bank.public_key.address.hex()}"
    answered(client, "shanghai", "shenzhen", "hangzhou")
    status, account = await signed_get(client, node, bank, path)
    assert (status, account["nonce"], account["at_height"]) == (200, 0, 0)
    node.fetches.in_flight = 1  # state transfer running
    status, answer = await signed_get(client, node, bank, path)
    assert (status, answer["error"]["code"]) == (503, "BEHIND")
    assert "catching up" in answer["error"]["message"]
    node.fetches.in_flight = 0
    answered(client, "shanghai", "shenzhen", height=3)  # f + 1 peers vouch for height 3
    status, answer = await signed_get(client, node, bank, path)
    assert (status, answer["error"]["code"]) == (503, "BEHIND")
    assert "at height 0 and its peers at 3" in answer["error"]["message"]
    status, refused, retry_after = await post(client, transaction_with_nonce(node, accounts, 0))
    assert (status, refused["error"]["code"], retry_after) == (503, "BEHIND", "1")
    assert len(node.mempool) == 0
    answered(client, "shanghai", "shenzhen", height=2)  # two blocks in flight are not "behind"
    assert (await signed_get(client, node, bank, path))[0] == 200


async def test_every_read_says_its_height_and_a_demand_above_it_is_answered_behind(served: Served) -> None:
    node, client, accounts = served
    bank = PrivateKey.load(accounts / "bank-beijing.pem")
    address = bank.public_key.address.hex()
    unknown = "ab" * 32
    for path in ("/v1/supply", f"/v1/transactions/{unknown}"):
        response = await client.get(path)
        assert (response.status, (await response.json())["at_height"]) == (200, 0), path
        response = await client.get(path + "?min_height=1")
        document = await response.json()
        assert (response.status, document["error"]["code"]) == (503, "BEHIND"), path
        assert document["error"]["message"].startswith(
            "this hub is at height 0; the request asks for at least 1"
        )
        assert response.headers["Retry-After"] == "1"
    response = await client.get(f"/v1/transactions/{unknown}")
    assert (await response.json())["status"] == "unknown"
    for suffix in ("/dvps", "/escrows"):  # not nonce questions: served without a quorum, with a height
        status, document = await signed_get(client, node, bank, f"/v1/accounts/{address}{suffix}")
        assert (status, document["at_height"]) == (200, 0)
        status, document = await signed_get(
            client, node, bank, f"/v1/accounts/{address}{suffix}?min_height=5"
        )
        assert (status, document["error"]["code"]) == (503, "BEHIND")
    status, document = await signed_get(client, node, bank, f"/v1/accounts/{address}?min_height=5")
    assert document["error"]["code"] == "BEHIND"  # the client's own demand is the more precise answer
    status, document = await signed_get(client, node, bank, f"/v1/accounts/{address}")
    assert (status, document["error"]["code"]) == (503, "NO_QUORUM")
    response = await client.get("/v1/supply?min_height=x")
    assert (response.status, (await response.json())["error"]["code"]) == (400, "MALFORMED")
