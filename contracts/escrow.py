"""Escrow: a payer locks money for a payee, to be released by an arbiter.

Locking moves the amount out of the payer's balance into the escrow record
(and into the ``locked in escrow`` total), so it cannot be spent twice yet
still counts in total supply. Up to and including the expiry height the
arbiter or the payer may release it to the payee; after it, only the payer
may reclaim it. An escrow id is never reused.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from contracts import accessors, keys
from contracts.arguments import Fields, parse_address, parse_height, parse_id, parse_int
from contracts.context import BlockContext
from contracts.errors import ContractError
from contracts.method import Method
from contracts.records import EscrowRecord
from contracts.state import Overlay
from ledger.receipt import Event
from ledger.types import Address


@dataclass(frozen=True)
class LockArgs:
    escrow_id: str
    payee: Address
    arbiter: Address
    amount: int
    expiry_height: int


@dataclass(frozen=True)
class EscrowIdArgs:
    escrow_id: str


LOCK = Fields(("escrow_id", "payee", "arbiter", "amount", "expiry_height"))
ESCROW_ID = Fields(("escrow_id",))


def parse_lock(args: Mapping[str, Any]) -> LockArgs:
    fields = LOCK.get(args)
    return LockArgs(
        escrow_id=parse_id(fields["escrow_id"], "escrow_id"),
        payee=parse_address(fields["payee"], "payee"),
        arbiter=parse_address(fields["arbiter"], "arbiter"),
        amount=parse_int(fields["amount"], "amount"),
        expiry_height=parse_height(fields["expiry_height"], "expiry_height"),
    )


def parse_escrow_id(args: Mapping[str, Any]) -> EscrowIdArgs:
    return EscrowIdArgs(parse_id(ESCROW_ID.get(args)["escrow_id"], "escrow_id"))


def _parties(escrow: EscrowRecord) -> list[Address]:
    return sorted({escrow.payer, escrow.payee, escrow.arbiter})


def _require_open(state: Overlay, escrow_id: str) -> EscrowRecord:
    data = state.get(keys.get_escrow_key(escrow_id))
    if data is None:
        raise ContractError("NOT_FOUND", f"no escrow has id {escrow_id!r}")
    escrow = EscrowRecord.decode(data)
    if escrow.status != "open":
        raise ContractError("INVALID_STATE", f"escrow {escrow_id!r} is {escrow.status}, not open")
    return escrow


def _close(state: Overlay, escrow_id: str, escrow: EscrowRecord, status: str, to: Address) -> Event:
    state.put(keys.get_escrow_key(escrow_id), escrow.with_status(status).encode())
    for party in _parties(escrow):
        state.delete(keys.get_open_escrow_key(party, escrow_id))
    accessors.put_locked_in_escrow(state, accessors.get_locked_in_escrow(state) - escrow.amount)
    accessors.credit(state, to, escrow.amount)
    name = "EscrowReleased" if status == "released" else "EscrowReclaimed"
    return Event(name, {"escrow_id": escrow_id, "to": to.hex(), "amount": escrow.amount})


def validate_lock(args: LockArgs) -> None:
    accessors.validate_amount(args.amount)


def process_lock(state: Overlay, sender: Address, args: LockArgs, context: BlockContext) -> list[Event]:
    validate_lock(args)
    if args.expiry_height <= context.height:
        raise ContractError("EXPIRED", f"expiry height {args.expiry_height} is not after {context.height}")
    payer = accessors.require_active(state, sender, "payer")
    accessors.validate_within_limit(payer, args.amount)
    accessors.require_active(state, args.payee, "payee")
    accessors.require_active(state, args.arbiter, "arbiter")
    if state.get(keys.get_escrow_key(args.escrow_id)) is not None:
        raise ContractError("ALREADY_EXISTS", f"escrow id {args.escrow_id!r} is already taken")
    accessors.debit(state, sender, args.amount)
    accessors.put_locked_in_escrow(state, accessors.get_locked_in_escrow(state) + args.amount)
    escrow = EscrowRecord(sender, args.payee, args.arbiter, args.amount, args.expiry_height, "open")
    state.put(keys.get_escrow_key(args.escrow_id), escrow.encode())
    for party in _parties(escrow):
        state.put(keys.get_open_escrow_key(party, args.escrow_id), keys.INDEX_MARK)
    attributes = {
        "escrow_id": args.escrow_id,
        "payer": sender.hex(),
        "payee": args.payee.hex(),
        "arbiter": args.arbiter.hex(),
        "amount": args.amount,
    }
    return [Event("EscrowLocked", attributes)]


def process_release(
    state: Overlay, sender: Address, args: EscrowIdArgs, context: BlockContext
) -> list[Event]:
    escrow = _require_open(state, args.escrow_id)
    if sender not in (escrow.arbiter, escrow.payer):
        raise ContractError("NOT_AUTHORIZED", "only the arbiter or the payer may release an escrow")
    if context.height > escrow.expiry_height:
        raise ContractError(
            "EXPIRED", f"escrow {args.escrow_id!r} could be released until {escrow.expiry_height}"
        )
    accessors.require_active(state, escrow.payee, "payee")
    return [_close(state, args.escrow_id, escrow, "released", escrow.payee)]


def process_reclaim(
    state: Overlay, sender: Address, args: EscrowIdArgs, context: BlockContext
) -> list[Event]:
    escrow = _require_open(state, args.escrow_id)
    if sender != escrow.payer:
        raise ContractError("NOT_AUTHORIZED", "only the payer may reclaim an escrow")
    if context.height <= escrow.expiry_height:
        raise ContractError(
            "INVALID_STATE", f"escrow {args.escrow_id!r} can be reclaimed after height {escrow.expiry_height}"
        )
    return [_close(state, args.escrow_id, escrow, "reclaimed", escrow.payer)]


METHODS: Mapping[str, Method[Any]] = {
    "lock": Method(parse_lock, process_lock, validate_lock, fields=LOCK),
    "release": Method(parse_escrow_id, process_release, fields=ESCROW_ID),
    "reclaim": Method(parse_escrow_id, process_reclaim, fields=ESCROW_ID),
}
