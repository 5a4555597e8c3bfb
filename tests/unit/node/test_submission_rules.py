"""Node.submit enforces the admission rules itself: it refuses what the HTTP API refuses.

The rules live in node/admission.py. The API decodes a submission and hands it
to Node.submit, which applies them; so a caller inside the process (a test, a
future gRPC door) cannot slip a transaction past them by calling submit directly.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from hubledger_tools.netgen import generate_network
from ledger.keys import PrivateKey
from ledger.transaction import Transaction
from node.api.app import build_api
from node.runner import load_node_inputs
from node.service import Node

Served = tuple[Node, TestClient[web.Request, web.Application], Path]
Build = Callable[[Node, Path], Transaction]


@pytest.fixture
async def served(tmp_path: Path) -> AsyncIterator[Served]:
    generate_network(["beijing"], tmp_path / "net")
    node = Node(*load_node_inputs(tmp_path / "net" / "beijing.toml"))
    client = TestClient(TestServer(build_api(node)))
    await client.start_server()
    yield node, client, tmp_path / "net" / "accounts"
    await client.close()
    node.kv.close()


def call(
    node: Node, key: PrivateKey, *, chain_id: str | None = None, nonce: int = 0, **overrides: Any
) -> Transaction:
    fields: dict[str, Any] = {"contract": "cbdc", "method": "transfer"}
    fields["args"] = {"to": "00" * 20, "amount": 1}
    fields.update(overrides)
    return Transaction.create(key, chain_id=chain_id or node.genesis.chain_id, nonce=nonce, **fields)


def bank(accounts: Path) -> PrivateKey:
    return PrivateKey.load(accounts / "bank-beijing.pem")


def with_foreign_signature(node: Node, accounts: Path) -> Transaction:
    signed = call(node, bank(accounts)).to_json()
    forged = call(node, PrivateKey.from_secret(7)).to_json()
    return Transaction.from_json({**signed, "signature": forged["signature"]})


REFUSALS: list[tuple[str, Build, str]] = [
    ("wrong chain", lambda node, accounts: call(node, bank(accounts), chain_id="elsewhere"), "WRONG_CHAIN"),
    ("foreign signature", with_foreign_signature, "BAD_SIGNATURE"),
    ("nonce far ahead", lambda node, accounts: call(node, bank(accounts), nonce=1_000_000), "NONCE_GAP"),
    ("unregistered sender", lambda node, accounts: call(node, PrivateKey.from_secret(7)), "UNKNOWN_SENDER"),
    ("no such contract", lambda node, accounts: call(node, bank(accounts), contract="x"), "UNKNOWN_CONTRACT"),
]


@pytest.mark.parametrize(
    ("build", "code"), [(build, code) for _, build, code in REFUSALS], ids=[name for name, _, _ in REFUSALS]
)
async def test_node_submit_refuses_what_the_api_refuses(served: Served, build: Build, code: str) -> None:
    node, client, accounts = served
    transaction = build(node, accounts)

    response = await client.post("/v1/transactions", json=transaction.to_json())
    assert response.status == 400
    assert (await response.json())["error"]["code"] == code

    outcome = node.submit([transaction])[0]
    assert outcome.status == "refused"
    assert outcome.error is not None and outcome.error.code == code
    assert transaction.id not in node.mempool and len(node.mempool) == 0


async def test_a_replayed_nonce_is_refused_by_both_doors(served: Served) -> None:
    node, client, accounts = served
    first = call(node, bank(accounts), nonce=0)
    assert node.submit([first])[0].status == "pending"
    replay = call(node, bank(accounts), nonce=0, args={"to": "11" * 20, "amount": 2})

    response = await client.post("/v1/transactions", json=replay.to_json())
    assert (await response.json())["error"]["code"] == "NONCE_REPLAYED"
    outcome = node.submit([replay])[0]
    assert outcome.error is not None and outcome.error.code == "NONCE_REPLAYED"
    # Resubmission stays idempotent (the single validator may have committed it meanwhile).
    assert node.submit([first])[0].status in ("pending", "committed")


def test_each_submission_looks_up_the_transaction_and_reads_the_nonce_once(
    node: Node, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    counts = {"lookups": 0, "nonce_reads": 0}
    has_transaction = node.chain.has_transaction
    get_committed_nonce = node.get_committed_nonce

    def counted_lookup(transaction_id: bytes) -> bool:
        counts["lookups"] += 1
        return has_transaction(transaction_id)  # type: ignore[arg-type]

    def counted_nonce(address: bytes) -> int:
        counts["nonce_reads"] += 1
        return get_committed_nonce(address)  # type: ignore[arg-type]

    monkeypatch.setattr(node.chain, "has_transaction", counted_lookup)
    monkeypatch.setattr(node, "get_committed_nonce", counted_nonce)
    monkeypatch.setattr(node, "_offer_ready", lambda senders: None)  # the replica is not under test
    transaction = call(node, bank(tmp_path / "net" / "accounts"))
    assert node.submit([transaction])[0].status == "pending"
    assert counts == {"lookups": 1, "nonce_reads": 1}
