"""The central-bank digital currency: issue, redeem and transfer, in fen.

The central bank issues new money to banks and banks redeem it back, which
is the only way total supply changes. Everyone else moves money with
transfer. Invariant: total supply == sum of balances + money locked in escrow.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from contracts import accessors
from contracts.arguments import Fields, parse_address, parse_int
from contracts.context import BlockContext
from contracts.errors import ContractError
from contracts.method import Method
from contracts.state import Overlay
from ledger.receipt import Event
from ledger.types import UINT63_MAX, Address


@dataclass(frozen=True)
class IssueArgs:
    to: Address
    amount: int


@dataclass(frozen=True)
class RedeemArgs:
    amount: int


@dataclass(frozen=True)
class TransferArgs:
    to: Address
    amount: int


TO_AMOUNT = Fields(("to", "amount"))
AMOUNT = Fields(("amount",))


def parse_issue(args: Mapping[str, Any]) -> IssueArgs:
    fields = TO_AMOUNT.get(args)
    return IssueArgs(parse_address(fields["to"], "to"), parse_int(fields["amount"], "amount"))


def parse_redeem(args: Mapping[str, Any]) -> RedeemArgs:
    fields = AMOUNT.get(args)
    return RedeemArgs(parse_int(fields["amount"], "amount"))


def parse_transfer(args: Mapping[str, Any]) -> TransferArgs:
    fields = TO_AMOUNT.get(args)
    return TransferArgs(parse_address(fields["to"], "to"), parse_int(fields["amount"], "amount"))


def validate_amount_args(args: IssueArgs | RedeemArgs | TransferArgs) -> None:
    accessors.validate_amount(args.amount)


def process_issue(state: Overlay, sender: Address, args: IssueArgs, context: BlockContext) -> list[Event]:
    validate_amount_args(args)
    accessors.require_role(accessors.require_account(state, sender), ("central_bank",), "issue money")
    recipient = accessors.require_active(state, args.to, "recipient")
    if recipient.role != "bank":
        raise ContractError("NOT_AUTHORIZED", "new money is issued to banks only")
    supply = accessors.get_total_supply(state)
    if supply + args.amount > UINT63_MAX:
        raise ContractError("LIMIT_EXCEEDED", f"issuing {args.amount} would take total supply past 2**63")
    accessors.put_total_supply(state, supply + args.amount)
    accessors.credit(state, args.to, args.amount)
    return [Event("Issue", {"to": args.to.hex(), "amount": args.amount})]


def process_redeem(state: Overlay, sender: Address, args: RedeemArgs, context: BlockContext) -> list[Event]:
    validate_amount_args(args)
    accessors.require_role(accessors.require_account(state, sender), ("bank",), "redeem money")
    accessors.debit(state, sender, args.amount)
    accessors.put_total_supply(state, accessors.get_total_supply(state) - args.amount)
    return [Event("Redeem", {"from": sender.hex(), "amount": args.amount})]


def process_transfer(
    state: Overlay, sender: Address, args: TransferArgs, context: BlockContext
) -> list[Event]:
    validate_amount_args(args)
    accessors.validate_within_limit(accessors.require_active(state, sender, "sender"), args.amount)
    accessors.require_active(state, args.to, "recipient")
    accessors.debit(state, sender, args.amount)
    accessors.credit(state, args.to, args.amount)
    return [Event("Transfer", {"from": sender.hex(), "to": args.to.hex(), "amount": args.amount})]


METHODS: Mapping[str, Method[Any]] = {
    "issue": Method(parse_issue, process_issue, validate_amount_args, fields=TO_AMOUNT),
    "redeem": Method(parse_redeem, process_redeem, validate_amount_args, fields=AMOUNT),
    "transfer": Method(parse_transfer, process_transfer, validate_amount_args, fields=TO_AMOUNT),
}
