"""Bad input to the client API gets a 4xx, a stable code and a sentence, and changes nothing."""

from __future__ import annotations

import http.client
import json
import time
import urllib.request
from collections.abc import Iterator
from typing import Any

import cbor2
import pytest

from ledger.keys import PrivateKey
from ledger.transaction import Transaction
from tests.integration.harness import LocalNetwork, http_json, signed_get, wait_for

STRANGER = PrivateKey.from_secret(777)
JSON = "application/json"


@pytest.fixture(scope="module")
def network(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalNetwork]:
    network = LocalNetwork(tmp_path_factory.mktemp("api") / "net", ["beijing"])
    network.start_all()
    yield network
    network.stop_all()


def post_raw(network: LocalNetwork, path: str, data: bytes, content_type: str) -> tuple[int, Any]:
    request = urllib.request.Request(
        network.url("beijing") + path, data=data, headers={"Content-Type": content_type}
    )
    try:
        with urllib.request.urlopen(request, timeout=10, context=network.context) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def post_slowly(network: LocalNetwork, path: str, body: bytes) -> tuple[int, Any]:
    """POST as a slow client would: the body in two pieces, the second a moment later."""
    connection = http.client.HTTPSConnection(
        "127.0.0.1", network.api_ports["beijing"], timeout=30, context=network.context
    )
    connection.putrequest("POST", path)
    connection.putheader("Content-Type", "application/json")
    connection.putheader("Content-Length", str(len(body)))
    connection.endheaders()
    half = len(body) // 2
    connection.send(body[:half])
    time.sleep(0.3)  # a deliberately slow client, so the node sees the body arrive in parts
    connection.send(body[half:])
    response = connection.getresponse()
    return response.status, json.loads(response.read())


def transfer(network: LocalNetwork, **changes: Any) -> Transaction:
    key = changes.pop("key", network.account_key("bank-beijing"))
    fields: dict[str, Any] = {
        "chain_id": network.genesis.chain_id,
        "nonce": 0,
        "contract": "cbdc",
        "method": "transfer",
        "args": {"to": network.account_key("central-bank").public_key.address.hex(), "amount": 5},
    } | changes
    return Transaction.create(key, **fields)


def snapshot(network: LocalNetwork) -> tuple[int, int, int]:
    bank = network.account_key("bank-beijing")
    _, account = signed_get(network, "beijing", f"/v1/accounts/{bank.public_key.address.hex()}", bank)
    return network.height("beijing"), account["balance"], account["pending_nonce"]


def json_body(transaction: Transaction, **changes: Any) -> bytes:
    return json.dumps(transaction.to_json() | changes).encode()


CASES = [
    ("malformed JSON", lambda n: (b"{not json", "application/json"), 400, "MALFORMED_JSON"),
    ("malformed CBOR", lambda n: (b"\xa1\x61", "application/cbor"), 400, "MALFORMED_CBOR"),
    (
        "non-canonical CBOR",
        lambda n: (cbor2.dumps(dict(reversed(transfer(n).to_cbor_map().items()))), "application/cbor"),
        400,
        "MALFORMED_CBOR",
    ),
    ("unknown field", lambda n: (json_body(transfer(n), memo="hi"), "application/json"), 400, "MALFORMED"),
    (
        "float amount",
        lambda n: (json_body(transfer(n)).replace(b'"amount": 5', b'"amount": 5.5'), "application/json"),
        400,
        "MALFORMED_JSON",
    ),
    (
        "bad signature",
        lambda n: (json_body(transfer(n), signature="00" * 64), "application/json"),
        400,
        "BAD_SIGNATURE",
    ),
    (
        "wrong chain",
        lambda n: (json_body(transfer(n, chain_id="other")), "application/json"),
        400,
        "WRONG_CHAIN",
    ),
    (
        "replayed nonce",
        lambda n: (json_body(transfer(n, nonce=0, args={"to": "00" * 20, "amount": 1})), "application/json"),
        400,
        "NONCE_REPLAYED",
    ),
    (
        "nonce far ahead",
        lambda n: (json_body(transfer(n, nonce=10**6)), "application/json"),
        400,
        "NONCE_GAP",
    ),
    (
        "unknown account",
        lambda n: (json_body(transfer(n, key=STRANGER)), "application/json"),
        400,
        "UNKNOWN_SENDER",
    ),
    (
        "unknown contract",
        lambda n: (json_body(transfer(n, nonce=1, contract="lottery")), "application/json"),
        400,
        "UNKNOWN_CONTRACT",
    ),
    (
        "bad arguments",
        lambda n: (json_body(transfer(n, nonce=1, args={"amount": 1})), "application/json"),
        400,
        "BAD_ARGUMENTS",
    ),
    *[
        (
            f"amount {amount}",
            lambda n, amount=amount: (
                json_body(transfer(n, nonce=1, args={"to": "00" * 20, "amount": amount})),
                "application/json",
            ),
            400,
            "INVALID_AMOUNT",
        )
        for amount in (0, -5, 2**63)
    ],
    ("JSON nested 100,000 deep", lambda n: (b"[" * 100_000 + b"]" * 100_000, JSON), 400, "TOO_DEEP"),
    ("JSON nested past the limit", lambda n: (b'{"a":' * 30 + b"1" + b"}" * 30, JSON), 400, "TOO_DEEP"),
    ("body over 1 MiB", lambda n: (b"[" + b"1," * 600_000 + b"1]", "application/json"), 413, "TOO_LARGE"),
    ("wrong media type", lambda n: (b"hello", "text/plain"), 415, "UNSUPPORTED_MEDIA_TYPE"),
]


@pytest.fixture(scope="module")
def committed_first(network: LocalNetwork) -> None:
    """Nonce 0 is committed first, so that resending nonce 0 is a replay."""
    code, answer = http_json(network.url("beijing") + "/v1/transactions", transfer(network).to_json())
    assert code == 202, answer
    wait_for(lambda: network.height("beijing") >= 1, what="the first transfer to commit")


@pytest.mark.parametrize(("name", "make", "status", "code"), CASES, ids=[case[0] for case in CASES])
def test_bad_submission_is_refused_and_changes_nothing(
    network: LocalNetwork, committed_first: None, name: str, make: Any, status: int, code: str
) -> None:
    before = snapshot(network)
    data, content_type = make(network)
    answer_status, answer = post_raw(network, "/v1/transactions", data, content_type)
    assert answer_status == status, answer
    assert answer["error"]["code"] == code
    assert len(answer["error"]["message"]) > 10
    assert snapshot(network) == before


@pytest.mark.parametrize("depth", [100_000, 30])
def test_deep_batch_is_refused_with_a_stable_code(network: LocalNetwork, depth: int) -> None:
    body = b'{"transactions": [' + b"[" * depth + b"]" * depth + b"]}"
    status, answer = post_raw(network, "/v1/transactions/batch", body, "application/json")
    assert status == 400, answer
    assert answer["error"]["code"] == "TOO_DEEP"


def test_resubmitting_is_idempotent(network: LocalNetwork, committed_first: None) -> None:
    transaction = transfer(network, nonce=snapshot(network)[2])
    first = http_json(network.url("beijing") + "/v1/transactions", transaction.to_json())
    second = http_json(network.url("beijing") + "/v1/transactions", transaction.to_json())
    assert first[0] == second[0] == 202
    assert first[1]["id"] == second[1]["id"] == transaction.id.hex()


def test_cbor_submission_is_accepted(network: LocalNetwork, committed_first: None) -> None:
    transaction = transfer(network, nonce=snapshot(network)[2])
    status, answer = post_raw(network, "/v1/transactions", transaction.encoded, "application/cbor")
    assert status == 202, answer
    assert answer["id"] == transaction.id.hex()


@pytest.mark.parametrize(
    ("path", "status", "code"),
    [
        ("/v1/blocks/999999", 404, "NOT_FOUND"),
        ("/v1/blocks/minus-one", 400, "BAD_IDENTIFIER"),
        ("/v1/transactions/" + "ab" * 32, 404, "NOT_FOUND"),
        ("/v1/transactions/xyz", 400, "BAD_IDENTIFIER"),
        ("/v1/accounts/xyz", 400, "BAD_IDENTIFIER"),
        ("/v1/nothing-here", 404, "NOT_FOUND"),
    ],
)
def test_bad_reads_have_stable_codes(network: LocalNetwork, path: str, status: int, code: str) -> None:
    answer_status, answer = http_json(network.url("beijing") + path)
    assert answer_status == status
    assert answer["error"]["code"] == code


def test_account_data_is_private(network: LocalNetwork) -> None:
    bank = network.account_key("bank-beijing")
    path = f"/v1/accounts/{bank.public_key.address.hex()}"
    assert http_json(network.url("beijing") + path)[1]["error"]["code"] == "SIGNATURE_REQUIRED"
    status, answer = signed_get(network, "beijing", path, STRANGER)
    assert status == 403 and answer["error"]["code"] == "FORBIDDEN"
    for reader in ("bank-beijing", "central-bank", "regulator"):
        status, answer = signed_get(network, "beijing", path, network.account_key(reader))
        assert status == 200 and answer["balance"] >= 0


def test_a_large_batch_arrives_whole_and_commits(network: LocalNetwork) -> None:
    """A request body that arrives in parts is read whole (hundreds of kilobytes of transactions)."""
    central = network.account_key("central-bank")
    bank = network.account_key("bank-beijing").public_key.address.hex()
    transactions = [
        Transaction.create(
            central,
            chain_id=network.genesis.chain_id,
            nonce=nonce,
            contract="cbdc",
            method="issue",
            args={"to": bank, "amount": 1},
        )
        for nonce in range(800)
    ]
    body = json.dumps({"transactions": [transaction.to_json() for transaction in transactions]}).encode()
    status, answer = post_slowly(network, "/v1/transactions/batch", body)
    assert status == 202, answer
    assert [result["id"] for result in answer["results"]] == [tx.id.hex() for tx in transactions]
    last = transactions[-1].id.hex()
    wait_for(
        lambda: http_json(f"{network.url('beijing')}/v1/transactions/{last}")[1]["status"] == "committed",
        what="the last transaction of the batch to commit",
    )
