"""Set-up before the clock starts: each hub's bank registers and funds the senders of its hub."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import aiohttp

from hubledger_client.client import Client
from hubledger_tools.bench.cluster import Cluster, ClusterError
from hubledger_tools.bench.offer import BATCH_PATH
from hubledger_tools.bench.workload import FUNDING_PER_SENDER_FEN, encode_body
from ledger.keys import PrivateKey
from ledger.transaction import Transaction

SETUP_TIMEOUT_S = 120.0
POLL_S = 0.1


async def register_senders(
    session: aiohttp.ClientSession, cluster: Cluster, senders: list[PrivateKey]
) -> None:
    """Sender ``s`` is registered and funded by the bank of hub ``s mod hubs``, through that hub."""
    hubs = cluster.hubs
    pending: list[tuple[str, str]] = []  # (hub URL, transaction id)
    for hub_index, hub in enumerate(hubs):
        mine = senders[hub_index :: len(hubs)]
        if not mine:
            continue
        bank = PrivateKey.load(cluster.directory / "accounts" / f"bank-{hub}.pem")
        url = cluster.urls[hub]
        async with Client(url, ssl_context=cluster.ssl_context) as client:
            nonce = await client.get_next_nonce(bank)
        transactions = _compute_setup_transactions(bank, mine, hub, cluster.genesis.chain_id, nonce)
        await _submit(session, url, transactions)
        pending += [(url, transaction.id.hex()) for transaction in transactions]
    await _wait_committed(session, pending)


def _compute_setup_transactions(
    bank: PrivateKey, senders: list[PrivateKey], hub: str, chain_id: str, nonce: int
) -> list[Transaction]:
    calls: list[tuple[str, str, dict[str, Any]]] = [
        ("accounts", "register_institution", {"public_key": key.public_key.hex(), "hub": hub})
        for key in senders
    ]
    calls += [
        ("cbdc", "transfer", {"to": key.public_key.address.hex(), "amount": FUNDING_PER_SENDER_FEN})
        for key in senders
    ]
    return [
        Transaction.create(
            bank, chain_id=chain_id, nonce=nonce + offset, contract=contract, method=method, args=args
        )
        for offset, (contract, method, args) in enumerate(calls)
    ]


async def _submit(session: aiohttp.ClientSession, url: str, transactions: list[Transaction]) -> None:
    data = b'{"transactions":[' + b",".join(encode_body(tx) for tx in transactions) + b"]}"
    async with session.post(
        url + BATCH_PATH, data=data, headers={"Content-Type": "application/json"}
    ) as answer:
        document = await answer.json()
    if answer.status != 202:
        raise ClusterError(f"{url} refused the set-up batch: {document}")
    errors = [result["error"] for result in document["results"] if "error" in result]
    if errors:
        raise ClusterError(f"{url} refused {len(errors)} set-up transactions, the first: {errors[0]}")


async def _wait_committed(session: aiohttp.ClientSession, pending: list[tuple[str, str]]) -> None:
    deadline = time.monotonic() + SETUP_TIMEOUT_S
    waiting = list(pending)
    while waiting:
        if time.monotonic() > deadline:
            raise ClusterError(
                f"{len(waiting)} set-up transactions not committed after {SETUP_TIMEOUT_S:.0f} s"
            )
        url, transaction_id = waiting[-1]
        record = await _get_record(session, url, transaction_id)
        if record.get("status") != "committed":
            await asyncio.sleep(POLL_S)
            continue
        if not record["receipt"]["success"]:
            raise ClusterError(f"set-up transaction {transaction_id} failed: {record['receipt']}")
        waiting.pop()


async def _get_record(session: aiohttp.ClientSession, url: str, transaction_id: str) -> dict[str, Any]:
    async with session.get(f"{url}/v1/transactions/{transaction_id}") as response:
        document: dict[str, Any] = await response.json()
    if document.get("status") == "rejected":
        raise ClusterError(f"set-up transaction {transaction_id} was rejected: {document['error']}")
    return document
