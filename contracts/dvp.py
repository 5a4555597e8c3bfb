"""Delivery versus payment: securities against money, both legs or neither.

The proposer offers ``quantity`` of a security to a counterparty for
``amount`` fen. Proposing locks the securities inside the DvP record, so the
proposer cannot deliver them twice. The counterparty accepts at the latest
in the block at the expiry height: its payment and the delivery happen in the same transaction,
and if the payment fails (funds, limit, frozen) the whole transaction is
rolled back, so neither leg happens. Before acceptance either party may
cancel; after the expiry height, anyone may expire the DvP. Both return the
locked securities to the proposer. A DvP id is never reused.
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
from contracts.records import DvpRecord
from contracts.state import Overlay
from ledger.receipt import Event
from ledger.types import Address


@dataclass(frozen=True)
class ProposeArgs:
    dvp_id: str
    counterparty: Address
    security_id: str
    quantity: int
    amount: int
    expiry_height: int


@dataclass(frozen=True)
class DvpIdArgs:
    dvp_id: str


PROPOSE = Fields(("dvp_id", "counterparty", "security_id", "quantity", "amount", "expiry_height"))
DVP_ID = Fields(("dvp_id",))


def parse_propose(args: Mapping[str, Any]) -> ProposeArgs:
    fields = PROPOSE.get(args)
    return ProposeArgs(
        dvp_id=parse_id(fields["dvp_id"], "dvp_id"),
        counterparty=parse_address(fields["counterparty"], "counterparty"),
        security_id=parse_id(fields["security_id"], "security_id"),
        quantity=parse_int(fields["quantity"], "quantity"),
        amount=parse_int(fields["amount"], "amount"),
        expiry_height=parse_height(fields["expiry_height"], "expiry_height"),
    )


def parse_dvp_id(args: Mapping[str, Any]) -> DvpIdArgs:
    return DvpIdArgs(parse_id(DVP_ID.get(args)["dvp_id"], "dvp_id"))


def _require_dvp(state: Overlay, dvp_id: str) -> DvpRecord:
    data = state.get(keys.get_dvp_key(dvp_id))
    if data is None:
        raise ContractError("NOT_FOUND", f"no DvP has id {dvp_id!r}")
    dvp = DvpRecord.decode(data)
    if dvp.status != "open":
        raise ContractError("INVALID_STATE", f"DvP {dvp_id!r} is {dvp.status}, not open")
    return dvp


def _close(state: Overlay, dvp_id: str, dvp: DvpRecord, status: str) -> None:
    state.put(keys.get_dvp_key(dvp_id), dvp.with_status(status).encode())
    for party in (dvp.proposer, dvp.counterparty):
        state.delete(keys.get_open_dvp_key(party, dvp_id))


def _event(name: str, dvp_id: str, dvp: DvpRecord) -> Event:
    return Event(
        name,
        {
            "dvp_id": dvp_id,
            "proposer": dvp.proposer.hex(),
            "counterparty": dvp.counterparty.hex(),
            "security_id": dvp.security_id,
            "quantity": dvp.quantity,
            "amount": dvp.amount,
        },
    )


def validate_propose(args: ProposeArgs) -> None:
    accessors.validate_amount(args.quantity, "quantity")
    accessors.validate_amount(args.amount)


def process_propose(state: Overlay, sender: Address, args: ProposeArgs, context: BlockContext) -> list[Event]:
    validate_propose(args)
    if args.expiry_height <= context.height:
        raise ContractError("EXPIRED", f"expiry height {args.expiry_height} is not after {context.height}")
    if args.counterparty == sender:
        raise ContractError("INVALID_STATE", "a DvP needs two different parties")
    accessors.require_active(state, args.counterparty, "counterparty")
    accessors.require_security(state, args.security_id)
    if state.get(keys.get_dvp_key(args.dvp_id)) is not None:
        raise ContractError("ALREADY_EXISTS", f"DvP id {args.dvp_id!r} is already taken")
    accessors.take_securities(state, sender, args.security_id, args.quantity)
    dvp = DvpRecord(
        sender, args.counterparty, args.security_id, args.quantity, args.amount, args.expiry_height, "open"
    )
    state.put(keys.get_dvp_key(args.dvp_id), dvp.encode())
    for party in (sender, args.counterparty):
        state.put(keys.get_open_dvp_key(party, args.dvp_id), keys.INDEX_MARK)
    return [_event("DvpProposed", args.dvp_id, dvp)]


def process_accept(state: Overlay, sender: Address, args: DvpIdArgs, context: BlockContext) -> list[Event]:
    dvp = _require_dvp(state, args.dvp_id)
    if sender != dvp.counterparty:
        raise ContractError("NOT_AUTHORIZED", "only the counterparty may accept a DvP")
    if context.height > dvp.expiry_height:
        raise ContractError(
            "EXPIRED", f"DvP {args.dvp_id!r} could be accepted until height {dvp.expiry_height}"
        )
    payer = accessors.require_active(state, sender, "counterparty")
    accessors.validate_within_limit(payer, dvp.amount)
    accessors.require_active(state, dvp.proposer, "proposer")
    accessors.debit(state, sender, dvp.amount)
    accessors.credit(state, dvp.proposer, dvp.amount)
    accessors.give_securities(state, sender, dvp.security_id, dvp.quantity)
    _close(state, args.dvp_id, dvp, "settled")
    return [_event("DvpSettled", args.dvp_id, dvp)]


def process_cancel(state: Overlay, sender: Address, args: DvpIdArgs, context: BlockContext) -> list[Event]:
    dvp = _require_dvp(state, args.dvp_id)
    if sender not in (dvp.proposer, dvp.counterparty):
        raise ContractError("NOT_AUTHORIZED", "only a party to a DvP may cancel it")
    accessors.give_securities(state, dvp.proposer, dvp.security_id, dvp.quantity)
    _close(state, args.dvp_id, dvp, "cancelled")
    return [_event("DvpCancelled", args.dvp_id, dvp)]


def process_expire(state: Overlay, sender: Address, args: DvpIdArgs, context: BlockContext) -> list[Event]:
    dvp = _require_dvp(state, args.dvp_id)
    if context.height <= dvp.expiry_height:
        raise ContractError("INVALID_STATE", f"DvP {args.dvp_id!r} is open until height {dvp.expiry_height}")
    accessors.give_securities(state, dvp.proposer, dvp.security_id, dvp.quantity)
    _close(state, args.dvp_id, dvp, "expired")
    return [_event("DvpExpired", args.dvp_id, dvp)]


METHODS: Mapping[str, Method[Any]] = {
    "propose": Method(parse_propose, process_propose, validate_propose, fields=PROPOSE),
    "accept": Method(parse_dvp_id, process_accept, fields=DVP_ID),
    "cancel": Method(parse_dvp_id, process_cancel, fields=DVP_ID),
    "expire": Method(parse_dvp_id, process_expire, fields=DVP_ID),
}
