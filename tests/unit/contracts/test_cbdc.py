"""The CBDC: issue, redeem and transfer move money without creating or losing any."""

from __future__ import annotations

from typing import Any

from contracts import accessors
from ledger.receipt import Event
from ledger.types import Address


def balance(chain: Any, secret: int) -> int:
    return accessors.get_balance(chain.state, Address(bytes.fromhex(chain.address_of(secret))))


def supply(chain: Any) -> int:
    return accessors.get_total_supply(chain.state)


def test_genesis_supply_is_the_sum_of_bank_balances(chain: Any) -> None:
    assert supply(chain) == len(chain.BANKS) * chain.BANK_BALANCE


def test_transfer_moves_money_and_emits_an_event(chain: Any) -> None:
    payer, payee = chain.BANKS[0], chain.BANKS[1]
    receipt = chain.ok(payer, "cbdc", "transfer", to=chain.address_of(payee), amount=2500)
    assert receipt.events == (
        Event("Transfer", {"from": chain.address_of(payer), "to": chain.address_of(payee), "amount": 2500}),
    )
    assert balance(chain, payer) == chain.BANK_BALANCE - 2500
    assert balance(chain, payee) == chain.BANK_BALANCE + 2500
    assert supply(chain) == len(chain.BANKS) * chain.BANK_BALANCE


def test_issue_grows_supply_and_redeem_shrinks_it(chain: Any) -> None:
    bank = chain.BANKS[2]
    chain.ok(chain.CENTRAL_BANK, "cbdc", "issue", to=chain.address_of(bank), amount=700)
    assert balance(chain, bank) == chain.BANK_BALANCE + 700
    chain.ok(bank, "cbdc", "redeem", amount=200)
    assert balance(chain, bank) == chain.BANK_BALANCE + 500
    assert supply(chain) == len(chain.BANKS) * chain.BANK_BALANCE + 500


def test_overdraft_fails_and_changes_only_the_nonce(chain: Any) -> None:
    payer, payee = chain.BANKS[0], chain.BANKS[1]
    receipt = chain.fails(
        "INSUFFICIENT_FUNDS",
        payer,
        "cbdc",
        "transfer",
        to=chain.address_of(payee),
        amount=chain.BANK_BALANCE + 1,
    )
    assert chain.address_of(payer) in receipt.message
    assert balance(chain, payer) == chain.BANK_BALANCE


def test_only_the_central_bank_issues_and_only_to_banks(chain: Any) -> None:
    bank = chain.BANKS[0]
    chain.fails("NOT_AUTHORIZED", bank, "cbdc", "issue", to=chain.address_of(bank), amount=1)
    chain.fails(
        "NOT_AUTHORIZED", chain.CENTRAL_BANK, "cbdc", "issue", to=chain.address_of(chain.REGULATOR), amount=1
    )
    chain.fails("NOT_AUTHORIZED", chain.CENTRAL_BANK, "cbdc", "redeem", amount=1)


def test_amounts_must_be_positive_and_below_two_to_the_63(chain: Any) -> None:
    to = chain.address_of(chain.BANKS[1])
    for amount in (0, -5, 2**63):
        chain.fails("INVALID_AMOUNT", chain.BANKS[0], "cbdc", "transfer", to=to, amount=amount)


def test_issue_beyond_the_supply_bound_is_refused(chain: Any) -> None:
    to = chain.address_of(chain.BANKS[0])
    chain.fails("LIMIT_EXCEEDED", chain.CENTRAL_BANK, "cbdc", "issue", to=to, amount=2**63 - 1)


def test_transfer_to_an_unregistered_address_is_refused(chain: Any) -> None:
    chain.fails("UNKNOWN_ACCOUNT", chain.BANKS[0], "cbdc", "transfer", to="ab" * 20, amount=1)
