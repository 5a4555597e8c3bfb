"""Blocks and their headers.

A header commits to its height, its parent, the view that committed it, the
proposer's timestamp, the Merkle root of its transaction ids, the Merkle root
of its receipts (ledger/receipt.py, so one transaction's outcome can be proven
from a certified header), and the root of the authenticated state after
executing it (ledger/state_tree.py). The block hash is the hash of the header
alone, so a light client can follow the chain from headers and certificates.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Any

from ledger import cbor
from ledger.errors import DecodeError
from ledger.hashing import Domain, compute_hash, compute_merkle_root
from ledger.limits import BLOCK_BYTES_MAX, BLOCK_TRANSACTIONS_MAX, TEXT_MAX
from ledger.transaction import Transaction
from ledger.types import HASH_BYTES, Hash, Height, TimestampMs, ValidatorIndex, View

_HEADER_FIELDS = (
    "chain_id",
    "height",
    "previous_hash",
    "view",
    "timestamp_ms",
    "proposer",
    "transactions_root",
    "transaction_count",
    "receipts_root",
    "state_root",
)


@dataclass(frozen=True, slots=True)
class BlockHeader:
    chain_id: str
    height: Height
    previous_hash: Hash
    view: View
    timestamp_ms: TimestampMs
    proposer: ValidatorIndex
    transactions_root: Hash
    transaction_count: int
    receipts_root: Hash
    state_root: Hash

    def to_cbor_map(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in _HEADER_FIELDS}

    @property
    def hash(self) -> Hash:
        return compute_hash(Domain.BLOCK, cbor.encode(self.to_cbor_map()))

    @classmethod
    def from_cbor_map(cls, value: Any) -> BlockHeader:
        fields = cbor.expect_map(value, _HEADER_FIELDS, "block header")
        return cls(
            chain_id=cbor.expect_text(fields["chain_id"], "chain_id", size_max=TEXT_MAX),
            height=Height(cbor.expect_int(fields["height"], "height")),
            previous_hash=Hash(cbor.expect_bytes(fields["previous_hash"], "previous_hash", size=HASH_BYTES)),
            view=View(cbor.expect_int(fields["view"], "view")),
            timestamp_ms=TimestampMs(cbor.expect_int(fields["timestamp_ms"], "timestamp_ms")),
            proposer=ValidatorIndex(cbor.expect_int(fields["proposer"], "proposer", high=1023)),
            transactions_root=Hash(
                cbor.expect_bytes(fields["transactions_root"], "transactions_root", size=HASH_BYTES)
            ),
            transaction_count=cbor.expect_int(
                fields["transaction_count"], "transaction_count", high=BLOCK_TRANSACTIONS_MAX
            ),
            receipts_root=Hash(cbor.expect_bytes(fields["receipts_root"], "receipts_root", size=HASH_BYTES)),
            state_root=Hash(cbor.expect_bytes(fields["state_root"], "state_root", size=HASH_BYTES)),
        )

    def to_json(self) -> dict[str, Any]:
        return {
            name: value.hex() if isinstance(value, bytes) else value
            for name, value in self.to_cbor_map().items()
        }


@dataclass(frozen=True)
class Block:
    header: BlockHeader
    transactions: tuple[Transaction, ...]

    @cached_property
    def hash(self) -> Hash:
        return self.header.hash

    @property
    def height(self) -> Height:
        return self.header.height

    def to_cbor_map(self) -> dict[str, Any]:
        return {
            "header": self.header.to_cbor_map(),
            "transactions": [transaction.to_cbor_map() for transaction in self.transactions],
        }

    def encode(self) -> bytes:
        return self._encoded

    @cached_property
    def _encoded(self) -> bytes:
        # The same bytes cbor.encode(self.to_cbor_map()) gives ("header" sorts before
        # "transactions"), assembled from each transaction's cached encoding: a block is
        # encoded for its signature, its broadcast, its storage and its metrics, once.
        return b"".join(
            (
                _BLOCK_MAP_HEAD,
                cbor.encode(self.header.to_cbor_map()),
                _TRANSACTIONS_KEY,
                cbor.encode_head(4, len(self.transactions)),
                *(transaction.encoded for transaction in self.transactions),
            )
        )

    @classmethod
    def decode(cls, data: bytes) -> Block:
        value = cbor.decode_unchecked_form(data, bytes_max=BLOCK_BYTES_MAX)
        block = cls._from_value(value, keep_encodings=True)
        if block.encode() != data:
            raise DecodeError("CBOR is not in canonical (deterministic) form")
        block.validate_body()
        return block

    @classmethod
    def from_cbor_map(cls, value: Any) -> Block:
        block = cls._from_value(value, keep_encodings=False)
        block.validate_body()
        return block

    @classmethod
    def _from_value(cls, value: Any, *, keep_encodings: bool) -> Block:
        fields = cbor.expect_map(value, ("header", "transactions"), "block")
        header = BlockHeader.from_cbor_map(fields["header"])
        items = cbor.expect_list(fields["transactions"], "transactions", count_max=BLOCK_TRANSACTIONS_MAX)
        transactions = []
        for item in items:
            transaction = Transaction.from_cbor_map(item)
            if keep_encodings:
                # Validated already: the item's canonical bytes, kept for its id and for
                # re-encoding the block (which the caller compares with what it received).
                transaction.__dict__["encoded"] = cbor.encode_decoded(item)
            transactions.append(transaction)
        return cls(header, tuple(transactions))

    def validate_body(self) -> None:
        """Raise DecodeError unless the transactions are the ones the header commits to."""
        error = self._body_error
        if error is not None:
            raise DecodeError(error)

    @cached_property
    def _body_error(self) -> str | None:
        # Checked once per block: decoding, the replica and the chain store each ask, and
        # neither the header nor the transactions of a block can change.
        if self.header.transaction_count != len(self.transactions):
            return "block header's transaction_count does not match its transactions"
        if compute_transactions_root(self.transactions) != self.header.transactions_root:
            return "block header's transactions_root does not match its transactions"
        return None


_BLOCK_MAP_HEAD = cbor.encode_head(5, 2) + cbor.encode("header")
_TRANSACTIONS_KEY = cbor.encode("transactions")


def compute_transactions_root(transactions: tuple[Transaction, ...]) -> Hash:
    return compute_merkle_root([transaction.id for transaction in transactions])
