"""JSON-ready reads of the contract state for the client API.

Addresses are 40 lowercase hex characters; amounts are integers in fen.
Functions that list records scan an index by prefix, so they need a state
that can iterate (``StateScanner``): the chain store, a DictState, or an
Overlay over either.
"""

from __future__ import annotations

from typing import Any

from contracts import accessors, keys
from contracts.records import DvpRecord, EscrowRecord, decode_int
from contracts.state import StateReader, StateScanner
from ledger.types import Address


def get_account(state: StateScanner, address: Address) -> dict[str, Any] | None:
    account = accessors.get_account(state, address)
    if account is None:
        return None
    prefix = keys.get_holdings_prefix(address)
    holdings = {
        keys.get_id_from_key(key, prefix): decode_int(value, "holding")
        for key, value in state.iterate(prefix)
    }
    return {
        "address": address.hex(),
        "public_key": account.public_key.hex(),
        "name": account.name,
        "role": account.role,
        "hub": account.hub,
        "sponsor": None if account.sponsor is None else account.sponsor.hex(),
        "frozen": account.frozen,
        "nonce": accessors.get_nonce(state, address),
        "balance": accessors.get_balance(state, address),
        "limits": {"transfer_max": account.transfer_max},
        "holdings": holdings,
    }


def get_security(state: StateReader, security_id: str) -> dict[str, Any] | None:
    try:
        security = accessors.get_security(state, security_id)
    except (ValueError, UnicodeEncodeError):  # not a well-formed id, so no such security
        return None
    if security is None:
        return None
    return {
        "security_id": security_id,
        "name": security.name,
        "issuer": security.issuer.hex(),
        "supply": security.supply,
    }


def list_open_dvps(state: StateScanner, address: Address) -> list[dict[str, Any]]:
    """The DvPs still open in which ``address`` is the proposer or the counterparty, by id."""
    prefix = keys.get_open_dvps_prefix(address)
    result = []
    for key, _ in state.iterate(prefix):
        dvp_id = keys.get_id_from_key(key, prefix)
        data = state.get(keys.get_dvp_key(dvp_id))
        if data is None:
            raise ValueError(f"open-DvP index names {dvp_id!r}, which has no record: the state is corrupt")
        result.append(get_dvp_json(dvp_id, DvpRecord.decode(data)))
    return result


def get_dvp_json(dvp_id: str, dvp: DvpRecord) -> dict[str, Any]:
    return {
        "dvp_id": dvp_id,
        "proposer": dvp.proposer.hex(),
        "counterparty": dvp.counterparty.hex(),
        "security_id": dvp.security_id,
        "quantity": dvp.quantity,
        "amount": dvp.amount,
        "expiry_height": dvp.expiry_height,
        "status": dvp.status,
    }


def list_open_escrows(state: StateScanner, address: Address) -> list[dict[str, Any]]:
    """The escrows still open in which ``address`` is payer, payee or arbiter, by id."""
    prefix = keys.get_open_escrows_prefix(address)
    result = []
    for key, _ in state.iterate(prefix):
        escrow_id = keys.get_id_from_key(key, prefix)
        data = state.get(keys.get_escrow_key(escrow_id))
        if data is None:
            raise ValueError(
                f"open-escrow index names {escrow_id!r}, which has no record: the state is corrupt"
            )
        result.append(get_escrow_json(escrow_id, EscrowRecord.decode(data)))
    return result


def get_escrow_json(escrow_id: str, escrow: EscrowRecord) -> dict[str, Any]:
    return {
        "escrow_id": escrow_id,
        "payer": escrow.payer.hex(),
        "payee": escrow.payee.hex(),
        "arbiter": escrow.arbiter.hex(),
        "amount": escrow.amount,
        "expiry_height": escrow.expiry_height,
        "status": escrow.status,
    }


def get_total_supply(state: StateReader) -> int:
    return accessors.get_total_supply(state)


def get_locked_in_escrow(state: StateReader) -> int:
    return accessors.get_locked_in_escrow(state)
