"""Block headers and transactions from the JSON the client API and the export file use.

JSON carries byte strings as hex; these parsers turn them back into bytes and
then use the strict CBOR-map decoders of ledger/, so a value accepted here is
exactly one the chain could hold. Certificates decode with
``CommitCertificate.from_json`` (ledger/certificate.py).
"""

from __future__ import annotations

from typing import Any

from ledger import cbor
from ledger.block import BlockHeader
from ledger.errors import DecodeError
from ledger.transaction import Transaction

HEADER_BYTES_FIELDS = ("previous_hash", "transactions_root", "receipts_root", "state_root")


def parse_header(value: Any) -> BlockHeader:
    if not isinstance(value, dict):
        raise DecodeError("block header must be a map")
    fields = dict(value)
    for name in HEADER_BYTES_FIELDS:
        if name in fields:
            fields[name] = _from_hex(fields[name], name)
    return BlockHeader.from_cbor_map(fields)


def parse_transactions(value: Any, count_max: int) -> list[Transaction]:
    items = cbor.expect_list(value, "transactions", count_max=count_max)
    return [Transaction.from_json(_without_id(item)) for item in items]


def _without_id(item: Any) -> Any:
    """The API lists a block's transactions with their ids; the id is recomputed, never trusted."""
    if isinstance(item, dict) and "id" in item:
        return {name: field for name, field in item.items() if name != "id"}
    return item


def _from_hex(value: Any, what: str) -> bytes:
    text = cbor.expect_text(value, what, size_max=4096)
    try:
        return bytes.fromhex(text)
    except ValueError:
        raise DecodeError(f"{what} must be a hex string") from None
