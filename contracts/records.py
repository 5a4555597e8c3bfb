"""The records kept in state, each a canonical CBOR map decoded strictly.

A record that fails to decode was written by these contracts, so a failure
here is a bug or a corrupted store; it raises DecodeError loudly rather than
being treated as absent. The account record lives in ledger/account_state.py, where
proof checkers that cannot import the contracts decode it too.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace

from ledger import cbor
from ledger.account_state import ROLES as ROLES
from ledger.account_state import AccountRecord as AccountRecord
from ledger.account_state import decode_address as _address
from ledger.account_state import decode_choice as _choice
from ledger.account_state import decode_int as decode_int
from ledger.account_state import decode_record_map as _decode_map
from ledger.account_state import encode_int as encode_int
from ledger.types import Address

DVP_STATUSES = ("open", "settled", "cancelled", "expired")
ESCROW_STATUSES = ("open", "released", "reclaimed")


@dataclass(frozen=True, slots=True)
class HubRecord:
    name: str

    def encode(self) -> bytes:
        return cbor.encode(asdict(self))

    @classmethod
    def decode(cls, data: bytes) -> HubRecord:
        fields = _decode_map(data, ("name",), "hub record")
        return cls(name=cbor.expect_text(fields["name"], "hub name", size_max=64))


@dataclass(frozen=True, slots=True)
class SecurityRecord:
    name: str
    issuer: Address
    supply: int

    def encode(self) -> bytes:
        return cbor.encode(asdict(self))

    @classmethod
    def decode(cls, data: bytes) -> SecurityRecord:
        fields = _decode_map(data, ("name", "issuer", "supply"), "security record")
        return cls(
            name=cbor.expect_text(fields["name"], "security name", size_max=128),
            issuer=_address(fields["issuer"], "issuer"),
            supply=cbor.expect_int(fields["supply"], "supply"),
        )


@dataclass(frozen=True, slots=True)
class DvpRecord:
    """Delivery versus payment: the proposer delivers securities, the counterparty pays."""

    proposer: Address
    counterparty: Address
    security_id: str
    quantity: int
    amount: int
    expiry_height: int
    status: str

    def encode(self) -> bytes:
        return cbor.encode(asdict(self))

    def with_status(self, status: str) -> DvpRecord:
        return replace(self, status=status)

    @classmethod
    def decode(cls, data: bytes) -> DvpRecord:
        fields = _decode_map(data, _DVP_FIELDS, "dvp record")
        return cls(
            proposer=_address(fields["proposer"], "proposer"),
            counterparty=_address(fields["counterparty"], "counterparty"),
            security_id=cbor.expect_text(fields["security_id"], "security_id", size_max=64),
            quantity=cbor.expect_int(fields["quantity"], "quantity"),
            amount=cbor.expect_int(fields["amount"], "amount"),
            expiry_height=cbor.expect_int(fields["expiry_height"], "expiry_height"),
            status=_choice(fields["status"], DVP_STATUSES, "dvp status"),
        )


_DVP_FIELDS = ("proposer", "counterparty", "security_id", "quantity", "amount", "expiry_height", "status")


@dataclass(frozen=True, slots=True)
class EscrowRecord:
    payer: Address
    payee: Address
    arbiter: Address
    amount: int
    expiry_height: int
    status: str

    def encode(self) -> bytes:
        return cbor.encode(asdict(self))

    def with_status(self, status: str) -> EscrowRecord:
        return replace(self, status=status)

    @classmethod
    def decode(cls, data: bytes) -> EscrowRecord:
        fields = _decode_map(data, _ESCROW_FIELDS, "escrow record")
        return cls(
            payer=_address(fields["payer"], "payer"),
            payee=_address(fields["payee"], "payee"),
            arbiter=_address(fields["arbiter"], "arbiter"),
            amount=cbor.expect_int(fields["amount"], "amount"),
            expiry_height=cbor.expect_int(fields["expiry_height"], "expiry_height"),
            status=_choice(fields["status"], ESCROW_STATUSES, "escrow status"),
        )


_ESCROW_FIELDS = ("payer", "payee", "arbiter", "amount", "expiry_height", "status")
