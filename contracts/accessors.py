"""Typed reads and writes of the records kept under contracts.keys.

The ``require_*`` functions are the checks contracts start with: each raises
the ContractError a receipt will carry when the record is missing or unfit.
"""

from __future__ import annotations

import functools

from contracts import keys
from contracts.errors import ContractError
from contracts.records import AccountRecord, SecurityRecord, decode_int, encode_int
from contracts.state import Overlay, StateReader
from ledger.types import UINT63_MAX, Address

ACCOUNT_DECODES_CACHED_MAX = 16_384


def get_account(state: StateReader, address: Address) -> AccountRecord | None:
    data = state.get(keys.get_account_key(address))
    return None if data is None else _decode_account(data)


@functools.lru_cache(maxsize=ACCOUNT_DECODES_CACHED_MAX)
def _decode_account(data: bytes) -> AccountRecord:
    # A transfer reads its sender's and recipient's records several times, and they rarely
    # change: the same bytes always decode to the same immutable record, so decode them once.
    return AccountRecord.decode(data)


def put_account(state: Overlay, address: Address, account: AccountRecord) -> None:
    state.put(keys.get_account_key(address), account.encode())


def require_account(state: StateReader, address: Address, what: str = "account") -> AccountRecord:
    account = get_account(state, address)
    if account is None:
        raise ContractError("UNKNOWN_ACCOUNT", f"no {what} is registered at {address.hex()}")
    return account


def require_active(state: StateReader, address: Address, what: str = "account") -> AccountRecord:
    """A registered account that is not frozen."""
    account = require_account(state, address, what)
    if account.frozen:
        raise ContractError("ACCOUNT_FROZEN", f"{what} {address.hex()} is frozen")
    return account


def require_role(account: AccountRecord, roles: tuple[str, ...], doing: str) -> None:
    if account.role not in roles:
        allowed = " or ".join(role.replace("_", " ") for role in roles)
        raise ContractError("NOT_AUTHORIZED", f"only a {allowed} may {doing}")


def validate_amount(amount: int, what: str = "amount") -> None:
    if not 0 < amount <= UINT63_MAX:
        raise ContractError("INVALID_AMOUNT", f"{what} must be a positive integer below 2**63, not {amount}")


def validate_within_limit(account: AccountRecord, amount: int) -> None:
    if account.transfer_max is not None and amount > account.transfer_max:
        limit = account.transfer_max
        raise ContractError("LIMIT_EXCEEDED", f"amount {amount} is over the account's transfer limit {limit}")


def _get_int(state: StateReader, key: bytes, what: str) -> int:
    data = state.get(key)
    return 0 if data is None else decode_int(data, what)


def _put_int(state: Overlay, key: bytes, value: int) -> None:
    if not 0 <= value <= UINT63_MAX:
        raise ValueError(f"stored quantity {value} is outside 0..2**63-1: an invariant is broken")
    if value == 0:
        state.delete(key)
    else:
        state.put(key, encode_int(value))


def get_nonce(state: StateReader, address: Address) -> int:
    return _get_int(state, keys.get_nonce_key(address), "nonce")


def put_nonce(state: Overlay, address: Address, nonce: int) -> None:
    _put_int(state, keys.get_nonce_key(address), nonce)


def get_balance(state: StateReader, address: Address) -> int:
    return _get_int(state, keys.get_balance_key(address), "balance")


def debit(state: Overlay, address: Address, amount: int) -> None:
    balance = get_balance(state, address)
    if balance < amount:
        raise ContractError(
            "INSUFFICIENT_FUNDS", f"account {address.hex()} holds {balance} fen, {amount} are needed"
        )
    _put_int(state, keys.get_balance_key(address), balance - amount)


def credit(state: Overlay, address: Address, amount: int) -> None:
    _put_int(state, keys.get_balance_key(address), get_balance(state, address) + amount)


def get_total_supply(state: StateReader) -> int:
    return _get_int(state, keys.TOTAL_SUPPLY, "total supply")


def put_total_supply(state: Overlay, supply: int) -> None:
    _put_int(state, keys.TOTAL_SUPPLY, supply)


def get_locked_in_escrow(state: StateReader) -> int:
    return _get_int(state, keys.LOCKED_IN_ESCROW, "locked in escrow")


def put_locked_in_escrow(state: Overlay, locked: int) -> None:
    _put_int(state, keys.LOCKED_IN_ESCROW, locked)


def get_security(state: StateReader, security_id: str) -> SecurityRecord | None:
    data = state.get(keys.get_security_key(security_id))
    return None if data is None else SecurityRecord.decode(data)


def require_security(state: StateReader, security_id: str) -> SecurityRecord:
    security = get_security(state, security_id)
    if security is None:
        raise ContractError("UNKNOWN_SECURITY", f"no security has id {security_id!r}")
    return security


def get_holding(state: StateReader, address: Address, security_id: str) -> int:
    return _get_int(state, keys.get_holding_key(address, security_id), "holding")


def take_securities(state: Overlay, address: Address, security_id: str, quantity: int) -> None:
    holding = get_holding(state, address, security_id)
    if holding < quantity:
        raise ContractError(
            "INSUFFICIENT_FUNDS",
            f"account {address.hex()} holds {holding} of {security_id!r}, {quantity} are needed",
        )
    _put_int(state, keys.get_holding_key(address, security_id), holding - quantity)


def give_securities(state: Overlay, address: Address, security_id: str, quantity: int) -> None:
    key = keys.get_holding_key(address, security_id)
    _put_int(state, key, get_holding(state, address, security_id) + quantity)
