"""Blocks and headers: encodings, a hash that covers the header, and bodies that must match it."""

from __future__ import annotations

import dataclasses
from typing import Any

import cbor2
import pytest

from ledger import cbor
from ledger.block import Block, BlockHeader, compute_transactions_root
from ledger.errors import DecodeError, TooLarge
from ledger.hashing import compute_merkle_root
from ledger.limits import BLOCK_BYTES_MAX
from ledger.types import Hash
from tests.unit.ledger.factory import make_block, make_transaction


def make_full_block() -> Block:
    return make_block(tuple(make_transaction(secret, nonce=secret) for secret in (1, 2, 3)), height=7)


def test_block_round_trip_keeps_header_transactions_and_hash() -> None:
    block = make_full_block()
    decoded = Block.decode(block.encode())
    assert decoded == block
    assert decoded.hash == block.hash == block.header.hash
    assert [t.id for t in decoded.transactions] == [t.id for t in block.transactions]
    assert all(t.has_valid_signature() for t in decoded.transactions)
    assert decoded.encode() == block.encode()


def test_empty_block_round_trips() -> None:
    block = make_block(())
    assert Block.decode(block.encode()) == block
    assert block.header.transactions_root == compute_merkle_root([])


def test_header_round_trip_and_json() -> None:
    header = make_full_block().header
    assert BlockHeader.from_cbor_map(cbor.decode(cbor.encode(header.to_cbor_map()), bytes_max=4096)) == header
    document = header.to_json()
    assert document["previous_hash"] == header.previous_hash.hex()
    assert document["height"] == 7


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("chain_id", "hubledger-other"),
        ("height", 8),
        ("previous_hash", Hash(b"\x12" * 32)),
        ("view", 1),
        ("timestamp_ms", 1_700_000_000_001),
        ("proposer", 2),
        ("transactions_root", Hash(b"\x00" * 32)),
        ("transaction_count", 4),
        ("receipts_root", Hash(b"\x00" * 32)),
        ("state_root", Hash(b"\x23" * 32)),
    ],
)
def test_block_hash_covers_every_header_field(name: str, value: Any) -> None:
    header = make_full_block().header
    assert dataclasses.replace(header, **{name: value}).hash != header.hash


def test_block_hash_is_stable() -> None:
    first, second = make_block(()), make_block(())
    assert first.hash == second.hash
    assert Block.decode(first.encode()).hash == first.hash


def reencode(block: Block, transform: Any) -> bytes:
    fields = block.to_cbor_map()
    transform(fields)
    return cbor.encode(fields)


def test_body_with_fewer_transactions_than_the_header_counts_is_refused() -> None:
    block = make_full_block()
    with pytest.raises(DecodeError, match="transaction_count"):
        Block.decode(reencode(block, lambda f: f["transactions"].pop()))


def test_body_with_swapped_or_replaced_transactions_is_refused() -> None:
    block = make_full_block()
    with pytest.raises(DecodeError, match="transactions_root"):
        Block.decode(reencode(block, lambda f: f["transactions"].reverse()))
    other = make_transaction(9, nonce=9).to_cbor_map()
    with pytest.raises(DecodeError, match="transactions_root"):
        Block.decode(reencode(block, lambda f: f["transactions"].__setitem__(0, other)))


def test_header_claiming_another_root_is_refused() -> None:
    block = make_full_block()
    root = compute_transactions_root(block.transactions[:2])
    forged = dataclasses.replace(block.header, transactions_root=root)
    with pytest.raises(DecodeError):
        Block(forged, block.transactions).validate_body()


BAD_BLOCKS = {
    "missing header": lambda f: f.pop("header"),
    "missing transactions": lambda f: f.pop("transactions"),
    "unknown block field": lambda f: f.update(certificate=b""),
    "unknown header field": lambda f: f["header"].update(extra=0),
    "missing header field": lambda f: f["header"].pop("state_root"),
    "height as text": lambda f: f["header"].update(height="7"),
    "negative view": lambda f: f["header"].update(view=-1),
    "short previous hash": lambda f: f["header"].update(previous_hash=b"\x11" * 31),
    "state root as text": lambda f: f["header"].update(state_root="22" * 32),
    "proposer out of range": lambda f: f["header"].update(proposer=1024),
    "transactions as map": lambda f: f.update(transactions={}),
    "transaction not a map": lambda f: f["transactions"].__setitem__(0, [1]),
}


@pytest.mark.parametrize("transform", BAD_BLOCKS.values(), ids=BAD_BLOCKS.keys())
def test_malformed_blocks_are_refused(transform: Any) -> None:
    with pytest.raises(DecodeError):
        Block.decode(reencode(make_full_block(), transform))


def test_a_transaction_spelled_with_its_keys_out_of_order_is_refused() -> None:
    # The block's own map stays canonical; one transaction's keys come in another order.
    block = make_full_block()
    first = block.transactions[0]
    reordered = cbor2.dumps(dict(reversed(first.to_cbor_map().items())))
    spelled = block.encode().replace(first.encoded, reordered)
    assert len(spelled) == len(block.encode()) and spelled != block.encode()
    with pytest.raises(DecodeError, match="canonical"):
        Block.decode(spelled)


def test_oversize_block_is_refused_before_decoding() -> None:
    with pytest.raises(TooLarge):
        Block.decode(bytes(BLOCK_BYTES_MAX + 1))
