"""An amount out of range is refused at admission, by the contract's own check, and spends no nonce.

Zero, negative and past-2**63 amounts used to be admitted (202), ordered, and
committed as a FAILED receipt that used up the sender's nonce. Admission now runs
each method's stateless checks (``Method.validate``), so both doors answer 400
INVALID_AMOUNT and nothing is kept; execution keeps the very same check.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from contracts.errors import ContractError
from contracts.execution import validate_arguments
from hubledger_tools.netgen import generate_network
from ledger.keys import PrivateKey
from ledger.transaction import Transaction
from ledger.types import UINT63_MAX
from node.api.app import build_api
from node.runner import load_node_inputs
from node.service import Node

Served = tuple[Node, TestClient[web.Request, web.Application], Path]
BAD_AMOUNTS = [0, -5, UINT63_MAX + 1]
OTHER = "11" * 20


def calls(amount: int) -> list[tuple[str, str, dict[str, Any]]]:
    """Every contract method that takes an amount or a quantity, with ``amount`` in it."""
    return [
        ("cbdc", "issue", {"to": OTHER, "amount": amount}),
        ("cbdc", "redeem", {"amount": amount}),
        ("cbdc", "transfer", {"to": OTHER, "amount": amount}),
        ("securities", "create", {"security_id": "BOND-1", "name": "bond", "supply": amount}),
        ("securities", "transfer", {"security_id": "BOND-1", "to": OTHER, "quantity": amount}),
        (
            "dvp",
            "propose",
            {
                "dvp_id": "d1",
                "counterparty": OTHER,
                "security_id": "BOND-1",
                "quantity": 1,
                "amount": amount,
                "expiry_height": 100,
            },
        ),
        (
            "escrow",
            "lock",
            {"escrow_id": "e1", "payee": OTHER, "arbiter": OTHER, "amount": amount, "expiry_height": 100},
        ),
        ("netting", "settle", {"obligations": [{"from": OTHER, "to": "22" * 20, "amount": amount}]}),
        ("accounts", "set_limit", {"account": OTHER, "transfer_max": amount}),
    ]


CASES = [
    pytest.param(amount, contract, method, args, id=f"{contract}.{method}({amount})")
    for amount in BAD_AMOUNTS
    for contract, method, args in calls(amount)
]


@pytest.fixture
async def served(tmp_path: Path) -> AsyncIterator[Served]:
    generate_network(["beijing"], tmp_path / "net")
    node = Node(*load_node_inputs(tmp_path / "net" / "beijing.toml"))
    client = TestClient(TestServer(build_api(node)))
    await client.start_server()
    yield node, client, tmp_path / "net" / "accounts"
    await client.close()
    node.kv.close()


def make(node: Node, key: PrivateKey, contract: str, method: str, args: dict[str, Any]) -> Transaction:
    return Transaction.create(
        key, chain_id=node.genesis.chain_id, nonce=0, contract=contract, method=method, args=args
    )


@pytest.mark.parametrize(("amount", "contract", "method", "args"), CASES)
def test_the_contract_check_refuses_the_amount_without_reading_state(
    amount: int, contract: str, method: str, args: dict[str, Any]
) -> None:
    transaction = Transaction.create(
        PrivateKey.from_secret(5), chain_id="c", nonce=0, contract=contract, method=method, args=args
    )
    with pytest.raises(ContractError) as raised:
        validate_arguments(transaction)
    assert raised.value.code == "INVALID_AMOUNT"


@pytest.mark.parametrize(("amount", "contract", "method", "args"), CASES)
async def test_both_doors_refuse_an_amount_out_of_range_and_spend_no_nonce(
    served: Served, amount: int, contract: str, method: str, args: dict[str, Any]
) -> None:
    node, client, accounts = served
    key = PrivateKey.load(accounts / "bank-beijing.pem")
    transaction = make(node, key, contract, method, args)
    nonce_before = node.get_committed_nonce(key.public_key.address)

    response = await client.post("/v1/transactions", json=transaction.to_json())
    assert response.status == 400
    assert (await response.json())["error"]["code"] == "INVALID_AMOUNT"
    response = await client.post("/v1/transactions/batch", json={"transactions": [transaction.to_json()]})
    assert response.status == 202
    assert (await response.json())["results"][0]["error"]["code"] == "INVALID_AMOUNT"
    outcome = node.submit([transaction])[0]
    assert outcome.error is not None and outcome.error.code == "INVALID_AMOUNT"

    assert len(node.mempool) == 0
    assert node.get_committed_nonce(key.public_key.address) == nonce_before
    # The nonce is still free: a valid call with it is admitted.
    valid = make(node, key, "cbdc", "transfer", {"to": OTHER, "amount": 1})
    assert node.submit([valid])[0].status == "pending"


def test_an_amount_at_the_bounds_passes_the_check() -> None:
    for amount in (1, UINT63_MAX):
        for contract, method, args in calls(amount):
            transaction = Transaction.create(
                PrivateKey.from_secret(5), chain_id="c", nonce=0, contract=contract, method=method, args=args
            )
            validate_arguments(transaction)
