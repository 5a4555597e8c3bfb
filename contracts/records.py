"""The records kept in state, each a canonical CBOR map decoded strictly.

A record that fails to decode was written by these contracts, so a failure
here is a bug or a corrupted store; it raises DecodeError loudly rather than
being treated as absent.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from typing import Any

from ledger import cbor
from ledger.errors import DecodeError
from ledger.keys import PUBLIC_KEY_BYTES
from ledger.types import ADDRESS_BYTES, UINT63_MAX, Address

RECORD_BYTES_MAX = 4096
ROLES = ("central_bank", "bank", "regulator", "institution")
DVP_STATUSES = ("open", "settled", "cancelled", "expired")
ESCROW_STATUSES = ("open", "released", "reclaimed")


def encode_int(value: int) -> bytes:
    return cbor.encode_uint(value)


def decode_int(data: bytes, what: str) -> int:
    if data[:1] >= b"\x20":  # not an unsigned integer: the strict decoder explains what it is
        return cbor.expect_int(cbor.decode(data, bytes_max=16), what, high=UINT63_MAX)
    return cbor.expect_int(cbor.decode_uint(data), what, high=UINT63_MAX)


def _decode_map(data: bytes, fields: tuple[str, ...], what: str) -> dict[str, Any]:
    return dict(cbor.expect_map(cbor.decode(data, bytes_max=RECORD_BYTES_MAX), fields, what))


def _address(value: Any, what: str) -> Address:
    return Address(cbor.expect_bytes(value, what, size=ADDRESS_BYTES))


def _choice(value: Any, choices: tuple[str, ...], what: str) -> str:
    text = cbor.expect_text(value, what, size_max=32)
    if text not in choices:
        raise DecodeError(f"{what} {text!r} is not one of {', '.join(choices)}")
    return text


@dataclass(frozen=True, slots=True)
class AccountRecord:
    public_key: bytes
    name: str
    role: str
    hub: str
    sponsor: Address | None  # the sponsoring bank, for institutions
    frozen: bool
    transfer_max: int | None  # None: no per-transfer limit

    def encode(self) -> bytes:
        return cbor.encode(asdict(self))

    def with_changes(self, **changes: Any) -> AccountRecord:
        return replace(self, **changes)

    @classmethod
    def decode(cls, data: bytes) -> AccountRecord:
        fields = _decode_map(data, _ACCOUNT_FIELDS, "account record")
        sponsor = fields["sponsor"]
        transfer_max = fields["transfer_max"]
        frozen = fields["frozen"]
        if not isinstance(frozen, bool):
            raise DecodeError("account frozen flag must be a boolean")
        return cls(
            public_key=cbor.expect_bytes(fields["public_key"], "public_key", size=PUBLIC_KEY_BYTES),
            name=cbor.expect_text(fields["name"], "account name", size_max=64),
            role=_choice(fields["role"], ROLES, "account role"),
            hub=cbor.expect_text(fields["hub"], "account hub", size_max=64),
            sponsor=None if sponsor is None else _address(sponsor, "sponsor"),
            frozen=frozen,
            transfer_max=None if transfer_max is None else cbor.expect_int(transfer_max, "transfer_max"),
        )


_ACCOUNT_FIELDS = ("public_key", "name", "role", "hub", "sponsor", "frozen", "transfer_max")


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
