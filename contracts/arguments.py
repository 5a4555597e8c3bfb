"""Parsing of transaction arguments into typed values.

Arguments arrive as JSON-like maps. A map with missing or unknown fields, a
value of the wrong type, a malformed address or key is a transaction that
cannot be executed at all, so these helpers raise TransactionRejected with
BAD_ARGUMENTS. Whether an amount is positive is a contract rule instead
(INVALID_AMOUNT, in the receipt), checked by the contracts themselves.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from contracts.errors import TransactionRejected
from ledger.errors import KeyInvalid
from ledger.keys import PublicKey
from ledger.types import ADDRESS_BYTES, UINT63_MAX, Address

_ADDRESS = re.compile(f"[0-9a-f]{{{2 * ADDRESS_BYTES}}}")
_PUBLIC_KEY = re.compile(r"0[23][0-9a-f]{64}")
_ID = re.compile(r"[A-Za-z0-9._:-]{1,64}")
_HUB = re.compile(r"[a-z0-9][a-z0-9_-]{0,63}")
NAME_MAX = 64


def reject(message: str) -> TransactionRejected:
    return TransactionRejected(message, code="BAD_ARGUMENTS")


@dataclass(frozen=True)
class Fields:
    """The argument names of one method, declared once: its parse checks them and
    ``hubledger contracts`` lists them."""

    required: tuple[str, ...]
    optional: tuple[str, ...] = ()

    def get(self, args: Mapping[str, Any]) -> Mapping[str, Any]:
        return get_fields(args, self.required, self.optional)


def get_fields(
    args: Mapping[str, Any], required: tuple[str, ...], optional: tuple[str, ...] = ()
) -> Mapping[str, Any]:
    """Check that ``args`` has every required field, no unknown one, and return it."""
    missing = [name for name in required if name not in args]
    if missing:
        raise reject(f"missing argument(s): {', '.join(missing)}")
    unknown = sorted(set(args).difference(required, optional))
    if unknown:
        raise reject(f"unknown argument(s): {', '.join(unknown)}")
    return args


def parse_address(value: Any, name: str) -> Address:
    if not isinstance(value, str) or not _ADDRESS.fullmatch(value):
        raise reject(f"{name} must be an address: {2 * ADDRESS_BYTES} lowercase hex characters")
    return Address(bytes.fromhex(value))


def parse_public_key(value: Any, name: str) -> bytes:
    if not isinstance(value, str) or not _PUBLIC_KEY.fullmatch(value):
        raise reject(f"{name} must be a compressed P-256 public key in lowercase hex (66 characters)")
    data = bytes.fromhex(value)
    try:
        PublicKey(data)
    except KeyInvalid:
        raise reject(f"{name} is not a point on P-256") from None
    return data


def parse_int(value: Any, name: str) -> int:
    """Any integer; contracts check its range so that the receipt says INVALID_AMOUNT."""
    if not isinstance(value, int) or isinstance(value, bool):
        raise reject(f"{name} must be an integer")
    return value


def parse_height(value: Any, name: str) -> int:
    height = parse_int(value, name)
    if not 0 <= height <= UINT63_MAX:
        raise reject(f"{name} must be a block height between 0 and {UINT63_MAX}")
    return height


def parse_id(value: Any, name: str) -> str:
    if not isinstance(value, str) or not _ID.fullmatch(value):
        raise reject(f"{name} must be 1 to 64 characters from A-Z a-z 0-9 . _ : -")
    return value


def parse_hub(value: Any, name: str) -> str:
    if not isinstance(value, str) or not _HUB.fullmatch(value):
        raise reject(f"{name} must be a hub name: lowercase letters, digits, _ and -, up to 64")
    return value


def parse_name(value: Any, name: str) -> str:
    if not isinstance(value, str) or len(value) > NAME_MAX or not value.isprintable():
        raise reject(f"{name} must be printable text of at most {NAME_MAX} characters")
    return value


def parse_list(value: Any, name: str, *, count_max: int) -> list[Any]:
    if not isinstance(value, list):
        raise reject(f"{name} must be an array")
    if not value or len(value) > count_max:
        raise reject(f"{name} must hold between 1 and {count_max} items")
    return value


def parse_map(value: Any, name: str) -> Mapping[str, Any]:
    if not isinstance(value, dict):
        raise reject(f"{name} must be a map")
    return value
