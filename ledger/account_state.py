"""An account's records in the state: their keys and encodings, for writers and proof checkers.

The contracts write these records (contracts/keys.py and contracts/records.py
build on this module); a client checking a state proof offline
(hubledger_client/state_proof.py) must find the same keys and decode the same
bytes without importing the contracts, so the layout lives here, once, in the
shared data model.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from typing import Any

from ledger import cbor
from ledger.errors import DecodeError
from ledger.keys import PUBLIC_KEY_BYTES
from ledger.types import ADDRESS_BYTES, UINT63_MAX, Address

STATE_KEYS_VERSION = b"v1/"
ACCOUNT_PREFIX = STATE_KEYS_VERSION + b"account/"
BALANCE_PREFIX = STATE_KEYS_VERSION + b"balance/"
RECORD_BYTES_MAX = 4096
ROLES = ("central_bank", "bank", "regulator", "institution")


def key_address(address: Address) -> bytes:
    """An address as a part of a state key: exactly 20 bytes, so composite keys read one way."""
    if len(address) != ADDRESS_BYTES:
        raise ValueError(f"an address is {ADDRESS_BYTES} bytes, not {len(address)}")
    return bytes(address)


def get_account_key(address: Address) -> bytes:
    return ACCOUNT_PREFIX + key_address(address)


def get_balance_key(address: Address) -> bytes:
    """The balance in fen; no record means 0."""
    return BALANCE_PREFIX + key_address(address)


def encode_int(value: int) -> bytes:
    return cbor.encode_uint(value)


def decode_int(data: bytes, what: str) -> int:
    if data[:1] >= b"\x20":  # not an unsigned integer: the strict decoder explains what it is
        return cbor.expect_int(cbor.decode(data, bytes_max=16), what, high=UINT63_MAX)
    return cbor.expect_int(cbor.decode_uint(data), what, high=UINT63_MAX)


def decode_record_map(data: bytes, fields: tuple[str, ...], what: str) -> dict[str, Any]:
    return dict(cbor.expect_map(cbor.decode(data, bytes_max=RECORD_BYTES_MAX), fields, what))


def decode_address(value: Any, what: str) -> Address:
    return Address(cbor.expect_bytes(value, what, size=ADDRESS_BYTES))


def decode_choice(value: Any, choices: tuple[str, ...], what: str) -> str:
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
        fields = decode_record_map(data, _ACCOUNT_FIELDS, "account record")
        sponsor = fields["sponsor"]
        transfer_max = fields["transfer_max"]
        frozen = fields["frozen"]
        if not isinstance(frozen, bool):
            raise DecodeError("account frozen flag must be a boolean")
        return cls(
            public_key=cbor.expect_bytes(fields["public_key"], "public_key", size=PUBLIC_KEY_BYTES),
            name=cbor.expect_text(fields["name"], "account name", size_max=64),
            role=decode_choice(fields["role"], ROLES, "account role"),
            hub=cbor.expect_text(fields["hub"], "account hub", size_max=64),
            sponsor=None if sponsor is None else decode_address(sponsor, "sponsor"),
            frozen=frozen,
            transfer_max=None if transfer_max is None else cbor.expect_int(transfer_max, "transfer_max"),
        )


_ACCOUNT_FIELDS = ("public_key", "name", "role", "hub", "sponsor", "frozen", "transfer_max")
