"""Every state key the contracts read or write is built here.

Keys start with a version and a prefix per record kind, so one kind can be
scanned (``iterate(prefix)``) without meeting another. Addresses are a fixed
20 bytes and ids are restricted to printable ASCII without ``/``, so a
composite key (address + id) can never be read two ways. An account's record and
balance keys live in ledger/account_state.py, shared with offline proof checkers.
"""

from __future__ import annotations

from ledger.account_state import ACCOUNT_PREFIX as ACCOUNT_PREFIX
from ledger.account_state import BALANCE_PREFIX as BALANCE_PREFIX
from ledger.account_state import STATE_KEYS_VERSION as VERSION
from ledger.account_state import get_account_key as get_account_key
from ledger.account_state import get_balance_key as get_balance_key
from ledger.account_state import key_address as _address
from ledger.types import Address

NONCE_PREFIX = VERSION + b"nonce/"
HUB_PREFIX = VERSION + b"hub/"
SECURITY_PREFIX = VERSION + b"security/"
HOLDING_PREFIX = VERSION + b"holding/"
DVP_PREFIX = VERSION + b"dvp/"
DVP_OPEN_PREFIX = VERSION + b"dvp-open/"
ESCROW_PREFIX = VERSION + b"escrow/"
ESCROW_OPEN_PREFIX = VERSION + b"escrow-open/"
TOTAL_SUPPLY = VERSION + b"meta/total-supply"
LOCKED_IN_ESCROW = VERSION + b"meta/locked-in-escrow"
INDEX_MARK = b"\xf5"  # CBOR true: the value of an index entry, whose key says everything


def _text(text: str) -> bytes:
    encoded = text.encode("ascii")
    if b"/" in encoded or not encoded:
        raise ValueError(f"id {text!r} cannot be part of a state key")
    return encoded


def get_nonce_key(address: Address) -> bytes:
    return NONCE_PREFIX + _address(address)


def get_hub_key(hub: str) -> bytes:
    return HUB_PREFIX + _text(hub)


def get_security_key(security_id: str) -> bytes:
    return SECURITY_PREFIX + _text(security_id)


def get_holdings_prefix(address: Address) -> bytes:
    return HOLDING_PREFIX + _address(address)


def get_holding_key(address: Address, security_id: str) -> bytes:
    return get_holdings_prefix(address) + _text(security_id)


def get_dvp_key(dvp_id: str) -> bytes:
    return DVP_PREFIX + _text(dvp_id)


def get_open_dvps_prefix(address: Address) -> bytes:
    return DVP_OPEN_PREFIX + _address(address)


def get_open_dvp_key(address: Address, dvp_id: str) -> bytes:
    return get_open_dvps_prefix(address) + _text(dvp_id)


def get_escrow_key(escrow_id: str) -> bytes:
    return ESCROW_PREFIX + _text(escrow_id)


def get_open_escrows_prefix(address: Address) -> bytes:
    return ESCROW_OPEN_PREFIX + _address(address)


def get_open_escrow_key(address: Address, escrow_id: str) -> bytes:
    return get_open_escrows_prefix(address) + _text(escrow_id)


def get_id_from_key(key: bytes, prefix: bytes) -> str:
    """The id that follows ``prefix`` in a composite key built above."""
    if not key.startswith(prefix):
        raise ValueError("key does not start with the prefix it was scanned under")
    return key[len(prefix) :].decode("ascii")
