"""Receipts and the genesis document: round trips, and refusal of anything malformed."""

from __future__ import annotations

import copy
import dataclasses
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from ledger import cbor
from ledger.errors import DecodeError, LedgerError
from ledger.genesis import Genesis, GenesisAccount, Validator
from ledger.hashing import compute_merkle_root
from ledger.receipt import Event, Receipt, compute_receipts_root
from ledger.types import TimestampMs
from tests.unit.ledger.factory import CHAIN_ID, get_key

RECEIPTS = [
    Receipt(success=True),
    Receipt(
        success=True,
        events=(Event("Transfer", {"from": "aa", "to": "bb", "amount": 5}), Event("Noted")),
    ),
    Receipt(success=False, code="INSUFFICIENT_FUNDS", message="the payer holds 4 fen, not 5"),
]


@pytest.mark.parametrize("receipt", RECEIPTS)
def test_receipt_round_trips(receipt: Receipt) -> None:
    assert Receipt.decode(receipt.encode()) == receipt
    document = receipt.to_json()
    assert document["success"] is receipt.success and document["code"] == receipt.code


def test_receipts_root_is_the_merkle_root_of_the_encodings_in_order() -> None:
    assert compute_receipts_root(RECEIPTS) == compute_merkle_root([receipt.encode() for receipt in RECEIPTS])
    assert compute_receipts_root(RECEIPTS[::-1]) != compute_receipts_root(RECEIPTS)
    assert compute_receipts_root(()) == compute_merkle_root([])


@pytest.mark.parametrize(
    "edited",
    [
        Receipt(success=True, code="INSUFFICIENT_FUNDS", message="the payer holds 4 fen, not 5"),
        Receipt(success=False, code="ACCOUNT_FROZEN", message="the payer holds 4 fen, not 5"),
        Receipt(success=False, code="INSUFFICIENT_FUNDS", message="the payer holds 5 fen, not 5"),
        dataclasses.replace(RECEIPTS[2], events=(Event("X"),)),
    ],
)
def test_receipts_root_changes_with_any_field_of_any_receipt(edited: Receipt) -> None:
    assert compute_receipts_root([*RECEIPTS[:2], edited]) != compute_receipts_root(RECEIPTS)


BAD_RECEIPTS = {
    "success as int": lambda f: f.update(success=1),
    "missing code": lambda f: f.pop("code"),
    "unknown field": lambda f: f.update(gas=1),
    "events as map": lambda f: f.update(events={}),
    "event attributes as list": lambda f: f.update(events=[{"name": "X", "attributes": []}]),
    "event without name": lambda f: f.update(events=[{"attributes": {}}]),
    "event name as bytes": lambda f: f.update(events=[{"name": b"X", "attributes": {}}]),
    "message too long": lambda f: f.update(message="m" * 4097),
}


@pytest.mark.parametrize("transform", BAD_RECEIPTS.values(), ids=BAD_RECEIPTS.keys())
def test_malformed_receipts_are_refused(transform: Any) -> None:
    fields = RECEIPTS[1].to_cbor_map()
    transform(fields)
    with pytest.raises(DecodeError):
        Receipt.decode(cbor.encode(fields))


def make_genesis() -> Genesis:
    return Genesis(
        chain_id=CHAIN_ID,
        genesis_time_ms=TimestampMs(1_700_000_000_000),
        validators=tuple(
            Validator(hub, get_key(101 + index).public_key)
            for index, hub in enumerate(("beijing", "shanghai", "shenzhen", "hangzhou"))
        ),
        accounts=(
            GenesisAccount("pboc", get_key(1).public_key, "central_bank", "beijing", 0),
            GenesisAccount("icbc", get_key(3).public_key, "bank", "beijing", 1_000_000),
            GenesisAccount("acme", get_key(7).public_key, "institution", "shanghai", 0, sponsor="icbc"),
        ),
    )


def test_genesis_round_trips_through_json_and_file(tmp_path: Path) -> None:
    genesis = make_genesis()
    assert Genesis.from_json(json.loads(json.dumps(genesis.to_json()))) == genesis
    path = tmp_path / "genesis.json"
    genesis.save(path)
    loaded = Genesis.load(path)
    assert loaded == genesis and loaded.hash == genesis.hash
    assert loaded.validator_keys == tuple(v.public_key.data for v in genesis.validators)
    assert loaded.validator_index("shenzhen") == 2
    assert loaded.accounts[1].address == get_key(3).public_key.address
    with pytest.raises(LedgerError):
        loaded.validator_index("guangzhou")


def test_genesis_hash_changes_with_any_content() -> None:
    base = make_genesis().to_json()
    hashes = {Genesis.from_json(base).hash}
    changes: tuple[Callable[[dict[str, Any]], object], ...] = (
        lambda d: d.update(chain_id="hubledger-other"),
        lambda d: d.update(genesis_time_ms=1),
        lambda d: d["validators"].reverse(),
        lambda d: d["accounts"][1].update(balance=1_000_001),
        lambda d: d["accounts"][2].update(sponsor=""),
    )
    for change in changes:
        document = copy.deepcopy(base)
        change(document)
        hashes.add(Genesis.from_json(document).hash)
    assert len(hashes) == 6


BAD_GENESIS = {
    "no validators": lambda d: d.update(validators=[]),
    "validator names shared": lambda d: d["validators"][1].update(name="beijing"),
    "validator keys shared": lambda d: d["validators"][1].update(public_key=d["validators"][0]["public_key"]),
    "account keys shared": lambda d: d["accounts"][1].update(public_key=d["accounts"][0]["public_key"]),
    "unknown role": lambda d: d["accounts"][0].update(role="auditor"),
    "negative balance": lambda d: d["accounts"][1].update(balance=-1),
    "balance as float": lambda d: d["accounts"][1].update(balance=1.0),
    "key not hex": lambda d: d["validators"][0].update(public_key="zz"),
    "key off curve": lambda d: d["validators"][0].update(public_key="02" + "00" * 31 + "01"),
    "missing field": lambda d: d.pop("accounts"),
    "unknown field": lambda d: d.update(version=1),
    "unknown account field": lambda d: d["accounts"][0].update(email="x"),
    "validators not a list": lambda d: d.update(validators={}),
    "chain id too long": lambda d: d.update(chain_id="c" * 65),
}


@pytest.mark.parametrize("transform", BAD_GENESIS.values(), ids=BAD_GENESIS.keys())
def test_malformed_genesis_is_refused(transform: Any) -> None:
    document = make_genesis().to_json()
    transform(document)
    with pytest.raises(LedgerError):
        Genesis.from_json(document)


@pytest.mark.parametrize(
    "content", [b"{not json", b"\xff\xfe not utf-8", b"[]"], ids=["not-json", "not-utf8", "not-a-map"]
)
def test_unreadable_genesis_files_raise_decode_error(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "genesis.json"
    path.write_bytes(content)
    with pytest.raises(DecodeError, match="genesis"):
        Genesis.load(path)
    with pytest.raises(DecodeError):
        Genesis.load(tmp_path / "missing.json")
