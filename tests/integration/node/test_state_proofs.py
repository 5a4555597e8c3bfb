"""State proofs of accounts on a real two-hub network: the same readers as the account, an
offline check that trusts no hub, and the CLI's save-then-verify round trip."""

from __future__ import annotations

import json
import re
import signal
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from hubledger_client.state_proof import verify_account_proof
from ledger.keys import PrivateKey
from tests.integration.harness import (
    LocalNetwork,
    Submitter,
    http_json,
    run_cli,
    signed_get,
    wait_committed_on,
    wait_for,
)

HUBS = ["beijing", "shanghai"]
STRANGER = PrivateKey.from_secret(778)
SUBMITTERS: dict[str, Submitter] = {}  # each keeps its bank's nonce across the module's tests


@pytest.fixture(scope="module")
def network(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalNetwork]:
    network = LocalNetwork(tmp_path_factory.mktemp("state-proofs") / "net", HUBS)
    network.start_all()
    submitter = SUBMITTERS["bank-beijing"] = Submitter(network, "bank-beijing", "bank-shanghai")
    for amount in (250, 500):  # two blocks, so that height 1 is an older height than the latest
        transaction_id = submitter.transfer("beijing", amount=amount)
        for hub in HUBS:
            wait_committed_on(network, hub, transaction_id)
    yield network
    network.stop_all()


def address(network: LocalNetwork, name: str) -> str:
    return network.account_key(name).public_key.address.hex()


def read_account(network: LocalNetwork, path: str, reader: PrivateKey) -> dict[str, Any]:
    """The account as a read shows it; a hub may refuse nonce questions (NO_QUORUM) until its
    peers' status answers are fresh, which a proof (certified data, no nonce) does not wait for."""

    def answered() -> dict[str, Any] | None:
        status, account = signed_get(network, "shanghai", path, reader)
        return dict(account) if status == 200 else None

    return wait_for(answered, what=f"{path} to be served")


def proof_at(network: LocalNetwork, hub: str, path: str, height: int) -> tuple[int, dict[str, Any]]:
    """A signed proof at ``height``, asked again while the hub answers BUSY: it rebuilds one earlier
    state at a time and rests as long after each (node/state_proofs.py)."""
    regulator = network.account_key("regulator")

    def answered() -> tuple[int, dict[str, Any]] | None:
        status, document = signed_get(network, hub, f"{path}?height={height}", regulator)
        busy = status == 503 and document["error"]["code"] == "BUSY"
        return None if busy else (status, dict(document))

    return wait_for(answered, what=f"{hub} to answer a proof at height {height}")


def test_a_proof_has_exactly_the_readers_of_the_account(network: LocalNetwork) -> None:
    path = f"/v1/accounts/{address(network, 'bank-shanghai')}/proof"
    assert http_json(network.url("shanghai") + path)[1]["error"]["code"] == "SIGNATURE_REQUIRED"
    for outsider in (network.account_key("bank-beijing"), STRANGER):
        status, answer = signed_get(network, "shanghai", path, outsider)
        assert (status, answer["error"]["code"]) == (403, "FORBIDDEN")
    for reader in ("bank-shanghai", "regulator", "central-bank"):
        status, document = signed_get(network, "shanghai", path, network.account_key(reader))
        assert status == 200, document
        report = verify_account_proof(document, network.genesis)
        account = read_account(network, path.removesuffix("/proof"), network.account_key(reader))
        assert report.balance_fen == account["balance"]
        assert report.record is not None and report.record.role == "bank" and not report.frozen
        assert report.height >= 2 and len(report.signers) == 2


def test_an_unknown_account_and_heights_have_stable_codes(network: LocalNetwork) -> None:
    regulator = network.account_key("regulator")
    status, answer = signed_get(network, "beijing", f"/v1/accounts/{'42' * 20}/proof", regulator)
    assert (status, answer["error"]["code"]) == (404, "NOT_FOUND")
    path = f"/v1/accounts/{address(network, 'bank-beijing')}/proof"
    status, answer = signed_get(network, "beijing", f"{path}?height=999999999", regulator)
    assert (status, answer["error"]["code"]) == (503, "BEHIND")
    for height in ("-1", "0", "1.0"):  # 0: the genesis state has no certified header
        status, answer = signed_get(network, "beijing", f"{path}?height={height}", regulator)
        assert (status, answer["error"]["code"]) == (400, "MALFORMED"), height


def test_a_proof_at_an_earlier_height_shows_the_balance_before_a_transfer(network: LocalNetwork) -> None:
    transaction_id = SUBMITTERS["bank-beijing"].transfer("beijing", amount=777)
    committed = wait_committed_on(network, "shanghai", transaction_id)["height"]
    path = f"/v1/accounts/{address(network, 'bank-beijing')}/proof"
    reports = {}
    for height in (committed - 1, committed):
        status, document = proof_at(network, "shanghai", path, height)
        assert status == 200, document
        reports[height] = verify_account_proof(document, network.genesis)
        assert reports[height].height == height
    assert reports[committed - 1].balance_fen - reports[committed].balance_fen == 777



def test_the_cli_saves_a_proof_an_auditor_verifies_offline(network: LocalNetwork, tmp_path: Path) -> None:
    out = tmp_path / "balance.json"
    bank = address(network, "bank-shanghai")
    key = str(network.directory / "accounts" / "bank-shanghai.pem")
    fetched = run_cli(
        network, "balance-proof", "--node", network.url("beijing"), "--key", key, "--out", str(out)
    )
    assert fetched.returncode == 0, fetched.stderr
    genesis = str(network.directory / "genesis.json")
    verified = run_cli(network, "verify-balance", str(out), "--genesis", genesis)
    assert verified.returncode == 0, verified.stderr
    document = json.loads(out.read_text())
    balance = verify_account_proof(document, network.genesis).balance_fen
    assert verified.stdout.startswith(
        f"account {bank} held {balance} fen at height {document['height']} "
        f"(block hash {document['block_hash']}), certified by 2 of 2 validators"
    )
    sibling = document["records"][1]["siblings"][3]
    out.write_text(out.read_text().replace(sibling, ("1" if sibling[0] == "0" else "0") + sibling[1:]))
    refused = run_cli(network, "verify-balance", str(out), "--genesis", genesis)
    assert refused.returncode == 1
    assert refused.stderr.startswith("proof INVALID: STATE_PROOF: record ")
    assert refused.stderr.strip().endswith("the proof does not lead to the state root of the header")
    other = str(network.directory / "accounts" / "bank-beijing.pem")
    forbidden = run_cli(
        network,
        "balance-proof",
        "--node",
        network.url("beijing"),
        "--key",
        other,
        "--account",
        bank,
        "--out",
        str(out),
    )
    assert forbidden.returncode == 2 and "FORBIDDEN" in forbidden.stderr


def test_a_height_past_the_hubs_state_history_is_refused_and_named(network: LocalNetwork) -> None:
    """Last in this module: beijing comes back keeping one height of history."""
    network.kill("beijing", signal.SIGTERM)
    network.start("beijing", env={"HUBLEDGER_STORAGE_STATE_HISTORY_BLOCKS": "1"})
    submitter = Submitter(network, "bank-shanghai", "bank-beijing")
    latest = wait_committed_on(network, "beijing", submitter.transfer("shanghai"))["height"]
    path = f"/v1/accounts/{address(network, 'bank-beijing')}/proof"
    regulator = network.account_key("regulator")
    status, answer = signed_get(network, "beijing", f"{path}?height=1", regulator)
    assert (status, answer["error"]["code"]) == (409, "STATE_NOT_RETAINED"), answer
    named = re.search(r"proves the state of heights (\d+) to (\d+) only", answer["error"]["message"])
    assert named is not None, answer
    first, last = int(named[1]), int(named[2])
    assert last >= latest and first == last - 1  # one block of history below its latest
    status, document = proof_at(network, "beijing", path, first)
    assert status == 200 and verify_account_proof(document, network.genesis).height == first
    status, document = proof_at(network, "shanghai", path, 1)  # another keeps more
    assert status == 200 and verify_account_proof(document, network.genesis).height == 1
