"""A single validator commits what it is sent, and a SIGKILL loses nothing it committed."""

from __future__ import annotations

import signal
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ledger.keys import PrivateKey
from ledger.transaction import Transaction
from tests.integration.harness import LocalNetwork, http_json, signed_get, wait_for

TRANSFERS = 20


@pytest.fixture
def network(tmp_path: Path) -> Iterator[LocalNetwork]:
    network = LocalNetwork(tmp_path / "net", ["beijing"])
    network.start_all()
    yield network
    network.stop_all()


def submit(network: LocalNetwork, transaction: Transaction) -> str:
    code, answer = http_json(network.url("beijing") + "/v1/transactions", transaction.to_json())
    assert code == 202, answer
    return str(answer["id"])


def wait_committed(network: LocalNetwork, transaction_id: str) -> dict[str, Any]:
    def committed() -> dict[str, Any] | None:
        code, record = http_json(f"{network.url('beijing')}/v1/transactions/{transaction_id}")
        return record if code == 200 and record["status"] == "committed" else None

    return wait_for(committed, what=f"transaction {transaction_id} to commit")


def balance(network: LocalNetwork, key: PrivateKey) -> int:
    path = f"/v1/accounts/{key.public_key.address.hex()}"
    code, account = signed_get(network, "beijing", path, key)
    assert code == 200, account
    return int(account["balance"])


def test_transfers_commit_and_survive_sigkill(network: LocalNetwork) -> None:
    bank = network.account_key("bank-beijing")
    customer = PrivateKey.from_secret(4242)
    chain_id = network.genesis.chain_id
    register = Transaction.create(
        bank, chain_id=chain_id, nonce=0, contract="accounts", method="register_institution",
        args={"public_key": customer.public_key.hex(), "hub": "beijing"},
    )
    assert wait_committed(network, submit(network, register))["receipt"]["success"]
    opening = balance(network, bank)
    ids = [
        submit(network, Transaction.create(
            bank, chain_id=chain_id, nonce=1 + index, contract="cbdc", method="transfer",
            args={"to": customer.public_key.address.hex(), "amount": 100 + index},
        ))
        for index in range(TRANSFERS)
    ]
    records = [wait_committed(network, transaction_id) for transaction_id in ids]
    assert all(record["receipt"]["success"] for record in records)
    sent = sum(100 + index for index in range(TRANSFERS))
    assert balance(network, customer) == sent
    assert balance(network, bank) == opening - sent
    height = network.height("beijing")
    hashes = network.block_hashes("beijing", height)

    network.kill("beijing", signal.SIGKILL)
    network.start("beijing")

    assert network.height("beijing") == height
    assert network.block_hashes("beijing", height) == hashes
    assert balance(network, customer) == sent
    assert balance(network, bank) == opening - sent
    # and it carries on from its last block
    more = Transaction.create(
        bank, chain_id=chain_id, nonce=1 + TRANSFERS, contract="cbdc", method="transfer",
        args={"to": customer.public_key.address.hex(), "amount": 1},
    )
    record = wait_committed(network, submit(network, more))
    assert record["height"] == height + 1
    assert balance(network, customer) == sent + 1
