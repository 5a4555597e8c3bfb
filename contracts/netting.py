"""Multilateral netting: many obligations between banks settled as net positions.

Each obligation {from, to, amount} says ``from`` owes ``to``. Summing them
gives every party a net position; only net debtors pay and only net
creditors receive, so the money that moves is far less than the gross sum.
Positions are computed in a dict but applied in ascending address order,
so the result never depends on dict iteration. Settlement is all or nothing:
if any net debtor cannot pay, nothing moves and the receipt names the first
short party (by address) with SHORTFALL.

Who may submit: the central bank may net any obligations between banks and
itself; a bank may only submit obligations in which it is the debtor, since
nothing else proves the other banks agreed to pay.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from contracts import accessors
from contracts.arguments import Fields, parse_address, parse_int, parse_list, parse_map, reject
from contracts.context import BlockContext
from contracts.errors import ContractError
from contracts.method import Method
from contracts.state import Overlay
from ledger.receipt import Event
from ledger.types import Address

OBLIGATIONS_MAX = 256
NETTING_ROLES = ("bank", "central_bank")


@dataclass(frozen=True)
class Obligation:
    debtor: Address
    creditor: Address
    amount: int


@dataclass(frozen=True)
class SettleArgs:
    obligations: tuple[Obligation, ...]


SETTLE = Fields(("obligations",))
OBLIGATION = Fields(("from", "to", "amount"))


def parse_settle(args: Mapping[str, Any]) -> SettleArgs:
    items = parse_list(SETTLE.get(args)["obligations"], "obligations", count_max=OBLIGATIONS_MAX)
    obligations = []
    for index, item in enumerate(items):
        what = f"obligations[{index}]"
        fields = OBLIGATION.get(parse_map(item, what))
        obligation = Obligation(
            parse_address(fields["from"], f"{what}.from"),
            parse_address(fields["to"], f"{what}.to"),
            parse_int(fields["amount"], f"{what}.amount"),
        )
        if obligation.debtor == obligation.creditor:
            raise reject(f"{what} has the same account on both sides")
        obligations.append(obligation)
    return SettleArgs(tuple(obligations))


def compute_net_positions(obligations: tuple[Obligation, ...]) -> list[tuple[Address, int]]:
    """Every party's receipts minus payments, in ascending address order."""
    positions: dict[Address, int] = {}
    for obligation in obligations:
        positions[obligation.debtor] = positions.get(obligation.debtor, 0) - obligation.amount
        positions[obligation.creditor] = positions.get(obligation.creditor, 0) + obligation.amount
    return sorted(positions.items())


def validate_settle(args: SettleArgs) -> None:
    for obligation in args.obligations:
        accessors.validate_amount(obligation.amount)


def _validate_obligations(state: Overlay, sender: Address, obligations: tuple[Obligation, ...]) -> None:
    submitter = accessors.require_account(state, sender)
    accessors.require_role(submitter, NETTING_ROLES, "submit a netting batch")
    validate_settle(SettleArgs(obligations))
    for obligation in obligations:
        if submitter.role != "central_bank" and obligation.debtor != sender:
            raise ContractError("NOT_AUTHORIZED", "a bank may only submit obligations it owes itself")
    parties = sorted({o.debtor for o in obligations} | {o.creditor for o in obligations})
    for party in parties:
        account = accessors.require_active(state, party, "netting party")
        if account.role not in NETTING_ROLES:
            raise ContractError(
                "NOT_AUTHORIZED", f"{party.hex()} is not a bank: only banks take part in netting"
            )


def process_settle(state: Overlay, sender: Address, args: SettleArgs, context: BlockContext) -> list[Event]:
    _validate_obligations(state, sender, args.obligations)
    positions = compute_net_positions(args.obligations)
    for party, position in positions:
        balance = accessors.get_balance(state, party)
        if position < 0 and balance < -position:
            raise ContractError(
                "SHORTFALL", f"bank {party.hex()} owes a net {-position} fen but holds {balance}"
            )
    events = []
    for party, position in positions:  # debits first, so no credit is ever spent inside the batch
        if position < 0:
            accessors.debit(state, party, -position)
    for party, position in positions:
        if position > 0:
            accessors.credit(state, party, position)
        events.append(Event("NetPosition", {"account": party.hex(), "net": position}))
    summary = {"obligations": len(args.obligations), "parties": len(positions)}
    return [Event("NettingSettled", summary), *events]


METHODS: Mapping[str, Method[Any]] = {
    "settle": Method(parse_settle, process_settle, validate_settle, fields=SETTLE),
}
