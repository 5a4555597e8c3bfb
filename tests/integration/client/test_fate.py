"""A transaction's fate is never ambiguous, on real hub processes.

With two of four hubs down, new submissions are refused NO_QUORUM (and kept
nowhere); a transfer accepted just before the quorum was lost is reported
pending, by the hubs, the client library and ``hubledger tx``, then committed
once a hub returns, exactly once. A hub cut off from its peers answers BEHIND
to a read that asks for a height it has not reached, and while it catches up it
never hands out a nonce that is already used.
"""

from __future__ import annotations

import asyncio
import json
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from hubledger_client import Client, ClientError, TransactionPending
from hubledger_client.json_http import http_json
from hubledger_tools.cli.errors import ExitStatus
from hubledger_tools.trust import GENERATED_NETWORKS
from ledger.keys import PrivateKey
from ledger.transaction import Transaction
from tests.integration.harness import (
    ADMIN_TOKEN,
    LocalNetwork,
    Submitter,
    signed_get,
    wait_committed_on,
    wait_for,
)

HUBS = ["beijing", "shanghai", "shenzhen", "hangzhou"]
ENV = {
    "HUBLEDGER_CONSENSUS_VIEW_TIMEOUT_MS": "1000",
    "HUBLEDGER_CONSENSUS_REQUEST_TIMEOUT_MS": "2000",
    "HUBLEDGER_ADMIN_TOKEN": ADMIN_TOKEN,
}


@pytest.fixture
def network(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[LocalNetwork]:
    network = LocalNetwork(tmp_path / "net", HUBS, env=ENV)
    # The client library, its http_json and the CLI find the network's CA here, as a user's would.
    monkeypatch.setenv("HUBLEDGER_CA", str(network.ca_file))
    network.start_all()
    wait_for(lambda: all(len(network.status(h)["connected_peers"]) == 3 for h in HUBS), what="full mesh")
    regulator = network.account_key("regulator")
    wait_for(lambda: all(serves_nonces(network, h, regulator) for h in HUBS), what="every hub in quorum")
    yield network
    for hub in list(network.processes):
        network.resume(hub)  # a paused process cannot be terminated
    network.stop_all()


def post(url: str, body: Any) -> tuple[int, Any, dict[str, str]]:
    """POST JSON; (status, answer, headers)."""
    request = urllib.request.Request(
        url, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(request, timeout=10, context=GENERATED_NETWORKS) as response:
            return response.status, json.loads(response.read()), dict(response.headers)
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read()), dict(error.headers)


def transfer(network: LocalNetwork, sender: PrivateKey, nonce: int, to: str, amount: int) -> Transaction:
    return Transaction.create(
        sender,
        chain_id=network.genesis.chain_id,
        nonce=nonce,
        contract="cbdc",
        method="transfer",
        args={"to": to, "amount": amount},
    )


def status_of(network: LocalNetwork, hub: str, transaction_id: str) -> dict[str, Any]:
    code, record = http_json(f"{network.url(hub)}/v1/transactions/{transaction_id}")
    assert code == 200, record
    return dict(record)


def serves_nonces(network: LocalNetwork, hub: str, key: PrivateKey) -> bool:
    return signed_get(network, hub, f"/v1/accounts/{key.public_key.address.hex()}", key)[0] == 200


def balance(network: LocalNetwork, hub: str, name: str) -> tuple[int, int]:
    """(balance, nonce) of account ``name``, read from ``hub`` as the account itself."""
    key = network.account_key(name)
    code, account = signed_get(network, hub, f"/v1/accounts/{key.public_key.address.hex()}", key)
    assert code == 200, account
    return int(account["balance"]), int(account["nonce"])


def hubledger(*arguments: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "hubledger_tools.cli", *arguments]
    return subprocess.run(command, capture_output=True, text=True, timeout=90, check=False)


def test_two_hubs_down_refuse_new_transfers_and_one_accepted_before_commits_once_after(
    network: LocalNetwork,
) -> None:
    primary = network.status("beijing")["primary"]
    backups = [hub for hub in HUBS if hub != primary]
    entry, first_down, second_down = backups  # a backup takes the transfer and forwards it
    sender, receiver = network.account_key("bank-beijing"), network.account_key("bank-shanghai")
    before_sender, nonce = balance(network, entry, "bank-beijing")
    before_receiver, _ = balance(network, entry, "bank-shanghai")
    network.kill(first_down)
    accepted = transfer(network, sender, nonce, receiver.public_key.address.hex(), 700)
    for _ in range(3):  # the window: the paused hub answered a status poll less than 3 s ago
        network.pause(second_down)
        code, answer, _ = post(network.url(entry) + "/v1/transactions", accepted.to_json())
        if code == 202:
            break
        network.resume(second_down)
        wait_for(lambda: serves_nonces(network, entry, sender), what=f"{entry} in quorum again")
    assert (code, answer["status"]) == (202, "pending"), answer
    network.kill(second_down)  # two of four hubs down: no quorum anywhere
    urls = [network.url(hub) for hub in HUBS]

    refused = transfer(network, network.account_key("bank-shenzhen"), 0, receiver.public_key.address.hex(), 5)

    wait_for(
        lambda: not any(serves_nonces(network, hub, sender) for hub in (entry, primary)),
        what=f"{entry} and {primary} to see the quorum lost",
    )
    code, answer, headers = post(network.url(entry) + "/v1/transactions", refused.to_json())
    assert (code, answer["error"]["code"], headers["Retry-After"]) == (503, "NO_QUORUM", "2")
    code, answer, _ = post(network.url(primary) + "/v1/transactions", refused.to_json())
    assert (code, answer["error"]["code"]) == (503, "NO_QUORUM")

    async def library_view() -> None:
        async with Client(urls) as client:  # tries every hub: two refuse, two are gone
            with pytest.raises(ClientError, match="NO_QUORUM"):
                await client.submit(refused, busy_retries=1)
            with pytest.raises(TransactionPending) as pending:
                await client.wait(accepted, timeout_ms=1500)
            assert pending.value.status == "pending"

    asyncio.run(library_view())
    assert status_of(network, entry, accepted.id.hex())["status"] == "pending"
    cli = hubledger("tx", accepted.id.hex(), "--node", ",".join(urls), "--json")
    assert cli.returncode == ExitStatus.PENDING, cli.stderr
    assert json.loads(cli.stdout)["status"] == "pending"

    network.start(first_down)  # a hub returns: three of four
    for hub in (entry, primary, first_down):
        record = wait_committed_on(network, hub, accepted.id.hex(), timeout_s=60)
        assert record["receipt"]["success"], record
    cli = hubledger("tx", accepted.id.hex(), "--node", network.url(first_down), "--json")
    assert cli.returncode == 0, cli.stderr
    assert json.loads(cli.stdout)["height"] == record["height"]
    code, answer, _ = post(network.url(entry) + "/v1/transactions", accepted.to_json())
    assert (code, answer["status"]) == (202, "committed")  # resubmitting the same bytes changes nothing
    # The returned hub voted the commit, but the primary counts it in its quorum only once it has
    # answered a status poll (node/standing.py): until then nonce questions are refused NO_QUORUM.
    wait_for(lambda: serves_nonces(network, primary, sender), what=f"{primary} in quorum again")
    wait_for(lambda: balance(network, primary, "bank-beijing")[1] == nonce + 1, what="the sender's nonce")
    assert balance(network, primary, "bank-beijing") == (before_sender - 700, nonce + 1)
    assert balance(network, primary, "bank-shanghai")[0] == before_receiver + 700  # once, not twice
    for hub in (entry, primary, first_down):  # refused while there was no quorum: kept nowhere
        assert status_of(network, hub, refused.id.hex())["status"] == "unknown"
    cli = hubledger("tx", refused.id.hex(), "--node", ",".join(urls))  # one of them still down
    assert cli.returncode == ExitStatus.UNKNOWN, cli.stderr
    assert f"transaction {refused.id.hex()}: unknown" in cli.stdout


def test_a_cut_off_hub_answers_behind_and_never_hands_out_a_used_nonce_while_catching_up(
    network: LocalNetwork,
) -> None:
    primary = network.status("beijing")["primary"]
    cut_off = next(hub for hub in reversed(HUBS) if hub != primary)
    live = [hub for hub in HUBS if hub != cut_off]
    bank = network.account_key("bank-shenzhen")
    receiver = network.account_key("central-bank").public_key.address.hex()
    network.isolate(cut_off)
    path = f"/v1/accounts/{bank.public_key.address.hex()}"
    wait_for(
        lambda: signed_get(network, cut_off, path, bank)[1].get("error", {}).get("code") == "NO_QUORUM",
        what=f"{cut_off}, cut off, to refuse nonce questions",
    )

    async def transfer_four() -> tuple[int, dict[str, Any]]:
        async with Client([network.url(hub) for hub in [cut_off, *live]]) as client:  # passes it over
            for _ in range(4):
                record = await client.call(bank, "cbdc", "transfer", {"to": receiver, "amount": 1})
                assert record["receipt"]["success"], record
            account = await client.get_account(bank.public_key.address.hex(), signer=bank)  # reads its writes
            return client.committed_height, account

    committed_height, account = asyncio.run(transfer_four())
    assert account["at_height"] >= committed_height
    assert int(account["nonce"]) == 4
    assert network.height(cut_off) < committed_height
    code, answer = signed_get(network, cut_off, f"/v1/supply?min_height={committed_height}", bank)
    assert (code, answer["error"]["code"]) == (503, "BEHIND")
    assert answer["error"]["message"].startswith(f"this hub is at height {network.height(cut_off)};")

    network.heal()
    traffic = Submitter(network, "bank-beijing", "central-bank")  # new blocks show it what it missed
    answers: list[tuple[int, Any]] = []
    deadline, sent = time.monotonic() + 60, 0.0
    while time.monotonic() < deadline:
        answers.append(signed_get(network, cut_off, path, bank))
        if answers[-1][0] == 200:
            break
        if time.monotonic() - sent > 1:
            sent = time.monotonic()
            traffic.transfer(live[0])
        time.sleep(0.02)
    served = [answer for code, answer in answers if code == 200]
    assert served, f"{cut_off} never answered again: {answers[-3:]}"
    assert all(int(answer["nonce"]) == 4 for answer in served), served  # never the used nonce 0
    refusals = {answer["error"]["code"] for code, answer in answers if code == 503}
    assert refusals <= {"NO_QUORUM", "BEHIND"} and refusals, answers[:3]


def test_a_hub_that_restarts_behind_refuses_nonce_questions_until_it_caught_up(network: LocalNetwork) -> None:
    primary = network.status("beijing")["primary"]
    restarted = next(hub for hub in reversed(HUBS) if hub != primary)
    bank = network.account_key("bank-beijing")
    receiver = network.account_key("central-bank").public_key.address.hex()
    network.kill(restarted, signal.SIGKILL)

    async def transfer_many() -> int:
        async with Client([network.url(hub) for hub in HUBS if hub != restarted]) as client:
            for _ in range(5):
                await client.call(bank, "cbdc", "transfer", {"to": receiver, "amount": 1})
            return client.committed_height

    committed_height = asyncio.run(transfer_many())
    network.start(restarted)
    path = f"/v1/accounts/{bank.public_key.address.hex()}"
    answers: list[tuple[int, Any]] = []
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and (not answers or answers[-1][0] != 200):
        answers.append(signed_get(network, restarted, path, bank))
        time.sleep(0.02)
    assert answers[-1][0] == 200, answers[-3:]
    assert int(answers[-1][1]["nonce"]) == 5 and answers[-1][1]["at_height"] >= committed_height
    assert {answer["error"]["code"] for code, answer in answers[:-1]} <= {"NO_QUORUM", "BEHIND"}
