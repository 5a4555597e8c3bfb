"""Accounts and roles: who may hold money and securities, and who governs them.

The central bank registers banks (each at a hub), a bank registers the
institutions it sponsors, the regulator freezes and unfreezes, and limits on
single transfers are set by an institution's sponsoring bank or the regulator.
An account's address is derived from its public key, so the key given at
registration is the only one that can ever send from that account.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from contracts import accessors, keys
from contracts.arguments import (
    Fields,
    parse_address,
    parse_hub,
    parse_int,
    parse_name,
    parse_public_key,
    reject,
)
from contracts.context import BlockContext
from contracts.errors import ContractError
from contracts.method import Method
from contracts.records import AccountRecord, HubRecord
from contracts.state import Overlay
from ledger.keys import compute_address
from ledger.receipt import Event
from ledger.types import Address


@dataclass(frozen=True)
class RegisterArgs:
    public_key: bytes
    hub: str | None  # None: the sponsoring bank's hub
    name: str


@dataclass(frozen=True)
class AccountArgs:
    account: Address


@dataclass(frozen=True)
class SetLimitArgs:
    account: Address
    transfer_max: int | None  # None removes the limit


REGISTER_BANK = Fields(("public_key", "hub"), ("name",))
REGISTER_INSTITUTION = Fields(("public_key",), ("hub", "name"))
ACCOUNT = Fields(("account",))
SET_LIMIT = Fields(("account", "transfer_max"))


def parse_register_bank(args: Mapping[str, Any]) -> RegisterArgs:
    fields = REGISTER_BANK.get(args)
    return RegisterArgs(
        parse_public_key(fields["public_key"], "public_key"),
        parse_hub(fields["hub"], "hub"),
        parse_name(fields.get("name", ""), "name"),
    )


def parse_register_institution(args: Mapping[str, Any]) -> RegisterArgs:
    fields = REGISTER_INSTITUTION.get(args)
    hub = fields.get("hub")
    return RegisterArgs(
        parse_public_key(fields["public_key"], "public_key"),
        None if hub is None else parse_hub(hub, "hub"),
        parse_name(fields.get("name", ""), "name"),
    )


def parse_account(args: Mapping[str, Any]) -> AccountArgs:
    return AccountArgs(parse_address(ACCOUNT.get(args)["account"], "account"))


def parse_set_limit(args: Mapping[str, Any]) -> SetLimitArgs:
    fields = SET_LIMIT.get(args)
    transfer_max = fields["transfer_max"]
    if transfer_max is not None and not isinstance(transfer_max, int):
        raise reject("transfer_max must be an integer, or null to remove the limit")
    return SetLimitArgs(
        parse_address(fields["account"], "account"),
        None if transfer_max is None else parse_int(transfer_max, "transfer_max"),
    )


def _create_account(state: Overlay, account: AccountRecord) -> Address:
    address = compute_address(account.public_key)
    if accessors.get_account(state, address) is not None:
        raise ContractError("ALREADY_EXISTS", f"an account is already registered at {address.hex()}")
    accessors.put_account(state, address, account)
    return address


def _registered_event(address: Address, account: AccountRecord) -> Event:
    sponsor = "" if account.sponsor is None else account.sponsor.hex()
    return Event(
        "AccountRegistered",
        {"account": address.hex(), "role": account.role, "hub": account.hub, "sponsor": sponsor},
    )


def process_register_bank(
    state: Overlay, sender: Address, args: RegisterArgs, context: BlockContext
) -> list[Event]:
    accessors.require_role(accessors.require_account(state, sender), ("central_bank",), "register banks")
    if args.hub is None:
        raise ValueError("register_bank arguments always name a hub")
    account = AccountRecord(args.public_key, args.name, "bank", args.hub, None, False, None)
    address = _create_account(state, account)
    hub_key = keys.get_hub_key(args.hub)
    if state.get(hub_key) is None:  # a bank at a new hub brings the hub into the network
        state.put(hub_key, HubRecord(args.hub).encode())
    return [_registered_event(address, account)]


def process_register_institution(
    state: Overlay, sender: Address, args: RegisterArgs, context: BlockContext
) -> list[Event]:
    bank = accessors.require_account(state, sender)
    accessors.require_role(bank, ("bank",), "register institutions")
    hub = bank.hub if args.hub is None else args.hub
    if state.get(keys.get_hub_key(hub)) is None:
        raise ContractError("NOT_FOUND", f"no hub is named {hub!r}")
    account = AccountRecord(args.public_key, args.name, "institution", hub, sender, False, None)
    address = _create_account(state, account)
    return [_registered_event(address, account)]


def _process_set_frozen(state: Overlay, sender: Address, target: Address, frozen: bool) -> list[Event]:
    verb = "freeze" if frozen else "unfreeze"
    accessors.require_role(accessors.require_account(state, sender), ("regulator",), f"{verb} accounts")
    account = accessors.require_account(state, target)
    if account.role in ("central_bank", "regulator"):
        raise ContractError("NOT_AUTHORIZED", f"the {account.role.replace('_', ' ')} cannot be frozen")
    if account.frozen == frozen:
        state_name = "frozen" if frozen else "not frozen"
        raise ContractError("INVALID_STATE", f"account {target.hex()} is already {state_name}")
    accessors.put_account(state, target, account.with_changes(frozen=frozen))
    return [Event("AccountFrozen" if frozen else "AccountUnfrozen", {"account": target.hex()})]


def process_freeze(state: Overlay, sender: Address, args: AccountArgs, context: BlockContext) -> list[Event]:
    return _process_set_frozen(state, sender, args.account, True)


def process_unfreeze(
    state: Overlay, sender: Address, args: AccountArgs, context: BlockContext
) -> list[Event]:
    return _process_set_frozen(state, sender, args.account, False)


def validate_set_limit(args: SetLimitArgs) -> None:
    if args.transfer_max is not None:
        accessors.validate_amount(args.transfer_max, "transfer_max")


def process_set_limit(
    state: Overlay, sender: Address, args: SetLimitArgs, context: BlockContext
) -> list[Event]:
    validate_set_limit(args)
    setter = accessors.require_account(state, sender)
    account = accessors.require_account(state, args.account)
    if setter.role != "regulator" and account.sponsor != sender:
        raise ContractError("NOT_AUTHORIZED", "only the sponsoring bank or the regulator may set limits")
    accessors.put_account(state, args.account, account.with_changes(transfer_max=args.transfer_max))
    return [Event("LimitSet", {"account": args.account.hex(), "transfer_max": args.transfer_max})]


METHODS: Mapping[str, Method[Any]] = {
    "register_bank": Method(parse_register_bank, process_register_bank, fields=REGISTER_BANK),
    "register_institution": Method(
        parse_register_institution, process_register_institution, fields=REGISTER_INSTITUTION
    ),
    "freeze": Method(parse_account, process_freeze, fields=ACCOUNT),
    "unfreeze": Method(parse_account, process_unfreeze, fields=ACCOUNT),
    "set_limit": Method(parse_set_limit, process_set_limit, validate_set_limit, fields=SET_LIMIT),
}
