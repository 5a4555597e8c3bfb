"""Securities: a bank creates an issue (holding its whole supply) and holders transfer it.

Invariant per security: supply == sum of holdings + quantities locked in open DvPs.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from contracts import accessors, keys
from contracts.arguments import Fields, parse_address, parse_id, parse_int, parse_name
from contracts.context import BlockContext
from contracts.errors import ContractError
from contracts.method import Method
from contracts.records import SecurityRecord
from contracts.state import Overlay
from ledger.receipt import Event
from ledger.types import Address


@dataclass(frozen=True)
class CreateArgs:
    security_id: str
    name: str
    supply: int


@dataclass(frozen=True)
class TransferArgs:
    security_id: str
    to: Address
    quantity: int


CREATE = Fields(("security_id", "name", "supply"))
TRANSFER = Fields(("security_id", "to", "quantity"))


def parse_create(args: Mapping[str, Any]) -> CreateArgs:
    fields = CREATE.get(args)
    return CreateArgs(
        parse_id(fields["security_id"], "security_id"),
        parse_name(fields["name"], "name"),
        parse_int(fields["supply"], "supply"),
    )


def parse_transfer(args: Mapping[str, Any]) -> TransferArgs:
    fields = TRANSFER.get(args)
    return TransferArgs(
        parse_id(fields["security_id"], "security_id"),
        parse_address(fields["to"], "to"),
        parse_int(fields["quantity"], "quantity"),
    )


def validate_create(args: CreateArgs) -> None:
    accessors.validate_amount(args.supply, "supply")


def validate_transfer(args: TransferArgs) -> None:
    accessors.validate_amount(args.quantity, "quantity")


def process_create(state: Overlay, sender: Address, args: CreateArgs, context: BlockContext) -> list[Event]:
    validate_create(args)
    accessors.require_role(accessors.require_account(state, sender), ("bank",), "create securities")
    if accessors.get_security(state, args.security_id) is not None:
        raise ContractError("ALREADY_EXISTS", f"security {args.security_id!r} already exists")
    state.put(
        keys.get_security_key(args.security_id), SecurityRecord(args.name, sender, args.supply).encode()
    )
    accessors.give_securities(state, sender, args.security_id, args.supply)
    return [
        Event(
            "SecurityCreated",
            {"security_id": args.security_id, "issuer": sender.hex(), "supply": args.supply},
        )
    ]


def process_transfer(
    state: Overlay, sender: Address, args: TransferArgs, context: BlockContext
) -> list[Event]:
    validate_transfer(args)
    accessors.require_security(state, args.security_id)
    accessors.require_active(state, args.to, "recipient")
    accessors.take_securities(state, sender, args.security_id, args.quantity)
    accessors.give_securities(state, args.to, args.security_id, args.quantity)
    return [
        Event(
            "SecurityTransfer",
            {
                "security_id": args.security_id,
                "from": sender.hex(),
                "to": args.to.hex(),
                "quantity": args.quantity,
            },
        )
    ]


METHODS: Mapping[str, Method[Any]] = {
    "create": Method(parse_create, process_create, validate_create, fields=CREATE),
    "transfer": Method(parse_transfer, process_transfer, validate_transfer, fields=TRANSFER),
}
