"""Signed transactions: encodings, ids, JSON and CBOR agreeing, and signatures binding every field."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger import cbor
from ledger.errors import DecodeError, SignatureInvalid, TooLarge
from ledger.limits import TRANSACTION_BYTES_MAX
from ledger.transaction import Transaction
from tests.unit.ledger.factory import CHAIN_ID, flip_to_high_s, get_key, make_transaction

json_scalars = st.integers(-(2**63), 2**63 - 1) | st.text(max_size=12) | st.booleans() | st.none()
json_args = st.dictionaries(
    st.text(max_size=10),
    st.recursive(
        json_scalars,
        lambda children: (
            st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=6), children, max_size=4)
        ),
        max_leaves=12,
    ),
    max_size=6,
)


def test_cbor_round_trip_keeps_fields_id_and_signature() -> None:
    transaction = make_transaction()
    decoded = Transaction.decode(transaction.encoded)
    assert decoded == transaction
    assert decoded.id == transaction.id
    assert decoded.encoded == transaction.encoded
    assert decoded.has_valid_signature()
    assert decoded.sender_address == get_key(1).public_key.address


def test_id_is_stable_for_one_signed_transaction_and_covers_the_signature() -> None:
    transaction = make_transaction(nonce=3)
    rebuilt = Transaction(
        transaction.chain_id,
        transaction.sender,
        transaction.nonce,
        transaction.contract,
        transaction.method,
        dict(transaction.args),
        transaction.signature,
    )
    assert rebuilt.id == transaction.id and len(transaction.id) == 32
    # Signing is randomized: a second signature of the same body is another transaction id,
    # and both verify; the nonce, not the id, is what stops the replay.
    resigned = make_transaction(nonce=3)
    assert resigned.signing_bytes() == transaction.signing_bytes()
    assert resigned.id != transaction.id and resigned.has_valid_signature()


@settings(max_examples=40, deadline=None)
@given(args=json_args, nonce=st.integers(0, 2**63 - 1))
def test_json_and_cbor_describe_the_same_transaction(args: dict[str, Any], nonce: int) -> None:
    transaction = make_transaction(nonce=nonce, args=args)
    from_json = Transaction.from_json(json.loads(json.dumps(transaction.to_json())))
    assert from_json == transaction
    assert from_json.id == transaction.id
    assert from_json.has_valid_signature()
    assert Transaction.decode(transaction.encoded).id == transaction.id


TAMPERED: dict[str, Any] = {
    "chain_id": "hubledger-other",
    "sender": get_key(2).public_key.data,
    "nonce": 1,
    "contract": "escrow",
    "method": "issue",
    "args": {"to": "ab" * 20, "amount": 2501, "memo": "invoice 7"},
}


@pytest.mark.parametrize("name", TAMPERED)
def test_tampering_with_any_field_breaks_the_signature(name: str) -> None:
    transaction = make_transaction()
    tampered = dataclasses.replace(transaction, **{name: TAMPERED[name]})
    assert not tampered.has_valid_signature()
    with pytest.raises(SignatureInvalid):
        tampered.validate_signature()
    # Re-encoded and decoded, the tampered transaction is well formed but still refused.
    assert not Transaction.decode(cbor.encode(tampered.to_cbor_map())).has_valid_signature()


def test_a_flipped_signature_bit_is_refused() -> None:
    transaction = make_transaction()
    broken = bytearray(transaction.signature)
    broken[10] ^= 1
    assert not transaction.with_signature(bytes(broken)).has_valid_signature()


def test_high_s_twin_of_a_valid_signature_is_refused() -> None:
    transaction = make_transaction()
    twin = transaction.with_signature(flip_to_high_s(transaction.signature))
    assert twin.id != transaction.id
    assert not twin.has_valid_signature()
    with pytest.raises(SignatureInvalid):
        Transaction.decode(twin.encoded).validate_signature()


def test_signature_from_another_chain_does_not_carry_over() -> None:
    ours = make_transaction(chain_id=CHAIN_ID)
    theirs = make_transaction(chain_id="hubledger-other")
    assert not dataclasses.replace(ours, signature=theirs.signature).has_valid_signature()


def encode_map(transform: Any) -> bytes:
    fields = make_transaction().to_cbor_map()
    transform(fields)
    return cbor.encode(fields)


BAD_MAPS = {
    "missing signature": lambda f: f.pop("signature"),
    "missing nonce": lambda f: f.pop("nonce"),
    "unknown field": lambda f: f.update(fee=1),
    "nonce as text": lambda f: f.update(nonce="0"),
    "negative nonce": lambda f: f.update(nonce=-1),
    "nonce as bool": lambda f: f.update(nonce=False),
    "sender as text": lambda f: f.update(sender=f["sender"].hex()),
    "short sender": lambda f: f.update(sender=f["sender"][:32]),
    "short signature": lambda f: f.update(signature=f["signature"][:63]),
    "args as list": lambda f: f.update(args=[]),
    "bytes in args": lambda f: f.update(args={"to": b"\x00"}),
    "nested bytes in args": lambda f: f.update(args={"to": [{"x": b"\x00"}]}),
    "contract as int": lambda f: f.update(contract=1),
    "long method": lambda f: f.update(method="m" * 65),
    "long chain id": lambda f: f.update(chain_id="c" * 257),
}


@pytest.mark.parametrize("transform", BAD_MAPS.values(), ids=BAD_MAPS.keys())
def test_malformed_transactions_are_refused(transform: Any) -> None:
    with pytest.raises(DecodeError):
        Transaction.decode(encode_map(transform))


def test_args_nested_too_deeply_are_refused() -> None:
    args: Any = 1
    for _ in range(9):
        args = {"a": args}
    with pytest.raises(DecodeError):
        make_transaction(args=args)


def test_oversize_and_non_canonical_bytes_are_refused() -> None:
    with pytest.raises(TooLarge):
        Transaction.decode(b"\xa0" * (TRANSACTION_BYTES_MAX + 1))
    encoded = make_transaction().encoded
    with pytest.raises(DecodeError):
        Transaction.decode(encoded + b"\x00")
    with pytest.raises(DecodeError):
        Transaction.decode(encoded[:-1])


BAD_JSON = {
    "sender not hex": lambda j: j.update(sender="zz" * 33),
    "sender as bytes list": lambda j: j.update(sender=[1, 2]),
    "amount as float": lambda j: j["args"].update(amount=2500.0),
    "amount beyond 64 bits": lambda j: j["args"].update(amount=2**64),
    "lone surrogate in args": lambda j: j["args"].update(memo="\ud800"),
    "lone surrogate in method": lambda j: j.update(method="transfer\udc00"),
    "missing args": lambda j: j.pop("args"),
    "extra field": lambda j: j.update(id="00"),
    "not a map": lambda j: j.clear() or j.update(x=1),
}


@pytest.mark.parametrize("transform", BAD_JSON.values(), ids=BAD_JSON.keys())
def test_malformed_json_transactions_are_refused(transform: Any) -> None:
    document = make_transaction().to_json()
    transform(document)
    with pytest.raises(DecodeError):
        Transaction.from_json(document)


def test_json_with_escaped_surrogate_is_refused_not_crashed() -> None:
    document = json.dumps(make_transaction().to_json()).replace("invoice 7", "\\ud83d")
    with pytest.raises(DecodeError):
        Transaction.from_json(json.loads(document))
