"""Receipts: what executing a transaction did.

A receipt says whether the transaction succeeded, and if not, a stable error
code and a sentence; on success it lists the events the contract emitted
(for example Transfer{from, to, amount}).

A block header commits to its receipts by ``compute_receipts_root``: the
Merkle root of their canonical encodings, in the order of the block's
transactions, so receipt i is the outcome of transaction i and a proof of one
receipt is its encoding and its Merkle path to the header's receipts_root.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from ledger import cbor
from ledger.errors import DecodeError
from ledger.hashing import compute_merkle_root
from ledger.limits import EVENTS_MAX
from ledger.types import Hash


@dataclass(frozen=True, slots=True)
class Event:
    name: str
    attributes: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        # Kept in canonical key order, so that encoding every receipt takes the fast path.
        object.__setattr__(self, "attributes", cbor.in_canonical_order(self.attributes))

    def to_cbor_map(self) -> dict[str, Any]:
        return {"name": self.name, "attributes": dict(self.attributes)}


@dataclass(frozen=True)  # no slots: the encoding is cached on the instance
class Receipt:
    success: bool
    code: str = ""
    message: str = ""
    events: tuple[Event, ...] = ()

    def to_cbor_map(self) -> dict[str, Any]:
        return {  # in canonical key order
            "code": self.code,
            "events": [event.to_cbor_map() for event in self.events],
            "message": self.message,
            "success": self.success,
        }

    def encode(self) -> bytes:
        return self._encoded

    @cached_property
    def _encoded(self) -> bytes:
        # A block's receipts are encoded for its receipts root (to vote, and again at commit),
        # for storage and for proofs: once each.
        return cbor.encode(self.to_cbor_map())

    @classmethod
    def decode(cls, data: bytes) -> Receipt:
        return cls.from_cbor_map(cbor.decode(data, bytes_max=1 << 20))

    @classmethod
    def from_cbor_map(cls, value: Any) -> Receipt:
        fields = cbor.expect_map(value, ("success", "code", "message", "events"), "receipt")
        events = []
        for item in cbor.expect_list(fields["events"], "events", count_max=EVENTS_MAX):
            event = cbor.expect_map(item, ("name", "attributes"), "event")
            attributes = event["attributes"]
            if not isinstance(attributes, dict):
                raise DecodeError("event attributes must be a map")
            events.append(Event(cbor.expect_text(event["name"], "event name"), attributes))
        success = fields["success"]
        if not isinstance(success, bool):
            raise DecodeError("receipt success must be a boolean")
        return cls(
            success=success,
            code=cbor.expect_text(fields["code"], "code"),
            message=cbor.expect_text(fields["message"], "message", size_max=4096),
            events=tuple(events),
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "success": self.success,
            "code": self.code,
            "message": self.message,
            "events": [event.to_cbor_map() for event in self.events],
        }


def compute_receipts_root(receipts: Sequence[Receipt]) -> Hash:
    """The Merkle root a block header commits to: one leaf per receipt, in transaction order."""
    return compute_merkle_root([receipt.encode() for receipt in receipts])
