"""Every code in the error tables is reachable: one scenario provokes each.

A code added to contracts.errors without a scenario here fails the
coverage tests, so the documented list never holds a dead code.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from contracts.errors import ERROR_CODES, REJECTION_CODES, TransactionRejected
from contracts.execution import execute_transaction, validate_admissible
from contracts.state import Overlay
from ledger.transaction import Transaction
from ledger.types import Nonce

INSTITUTION = 50
OUTSIDER = 51


def _with_security(chain: Any) -> None:
    chain.ok(chain.BANKS[0], "securities", "create", security_id="CGB-2030", name="Bond", supply=100)


def _with_dvp(chain: Any) -> None:
    _with_security(chain)
    chain.ok(
        chain.BANKS[0], "dvp", "propose", dvp_id="d1", counterparty=chain.address_of(chain.BANKS[1]),
        security_id="CGB-2030", quantity=10, amount=500, expiry_height=chain.height + 3,
    )  # fmt: skip


def _with_escrow(chain: Any) -> None:
    chain.ok(
        chain.BANKS[0], "escrow", "lock", escrow_id="e1", payee=chain.address_of(chain.BANKS[1]),
        arbiter=chain.address_of(chain.REGULATOR), amount=100, expiry_height=chain.height + 3,
    )  # fmt: skip


def insufficient_funds(chain: Any) -> None:
    chain.fails("INSUFFICIENT_FUNDS", chain.BANKS[0], "cbdc", "redeem", amount=chain.BANK_BALANCE + 1)


def not_authorized(chain: Any) -> None:
    chain.fails(
        "NOT_AUTHORIZED", chain.BANKS[0], "accounts", "freeze", account=chain.address_of(chain.BANKS[1])
    )


def account_frozen(chain: Any) -> None:
    chain.ok(chain.REGULATOR, "accounts", "freeze", account=chain.address_of(chain.BANKS[1]))
    chain.fails(
        "ACCOUNT_FROZEN", chain.BANKS[1], "cbdc", "transfer", to=chain.address_of(chain.BANKS[0]), amount=1
    )


def limit_exceeded(chain: Any) -> None:
    chain.ok(
        chain.REGULATOR, "accounts", "set_limit", account=chain.address_of(chain.BANKS[0]), transfer_max=10
    )
    chain.fails(
        "LIMIT_EXCEEDED", chain.BANKS[0], "cbdc", "transfer", to=chain.address_of(chain.BANKS[1]), amount=11
    )


def expired(chain: Any) -> None:
    _with_dvp(chain)
    chain.advance(5)
    chain.fails("EXPIRED", chain.BANKS[1], "dvp", "accept", dvp_id="d1")


def unknown_security(chain: Any) -> None:
    to = chain.address_of(chain.BANKS[1])
    chain.fails(
        "UNKNOWN_SECURITY", chain.BANKS[0], "securities", "transfer", security_id="X", to=to, quantity=1
    )


def unknown_account(chain: Any) -> None:
    chain.fails(
        "UNKNOWN_ACCOUNT", chain.BANKS[0], "cbdc", "transfer", to=chain.address_of(OUTSIDER), amount=1
    )


def already_exists(chain: Any) -> None:
    chain.register_institution(chain.BANKS[0], INSTITUTION)
    chain.fails(
        "ALREADY_EXISTS",
        chain.BANKS[1],
        "accounts",
        "register_institution",
        public_key=chain.public_key_of(INSTITUTION),
    )


def not_found(chain: Any) -> None:
    chain.fails("NOT_FOUND", chain.BANKS[0], "escrow", "release", escrow_id="nope")


def invalid_amount(chain: Any) -> None:
    chain.fails("INVALID_AMOUNT", chain.BANKS[0], "securities", "create", security_id="Z", name="Z", supply=0)


def invalid_state(chain: Any) -> None:
    _with_escrow(chain)
    chain.fails("INVALID_STATE", chain.BANKS[0], "escrow", "reclaim", escrow_id="e1")


def shortfall(chain: Any) -> None:
    obligations = [
        {"from": chain.address_of(chain.BANKS[2]), "to": chain.address_of(chain.BANKS[3]), "amount": 10**9}
    ]
    receipt = chain.fails("SHORTFALL", chain.CENTRAL_BANK, "netting", "settle", obligations=obligations)
    assert chain.address_of(chain.BANKS[2]) in receipt.message


ERROR_SCENARIOS: dict[str, Callable[[Any], None]] = {
    "INSUFFICIENT_FUNDS": insufficient_funds,
    "NOT_AUTHORIZED": not_authorized,
    "ACCOUNT_FROZEN": account_frozen,
    "LIMIT_EXCEEDED": limit_exceeded,
    "EXPIRED": expired,
    "UNKNOWN_SECURITY": unknown_security,
    "UNKNOWN_ACCOUNT": unknown_account,
    "ALREADY_EXISTS": already_exists,
    "NOT_FOUND": not_found,
    "INVALID_AMOUNT": invalid_amount,
    "INVALID_STATE": invalid_state,
    "SHORTFALL": shortfall,
}


def test_every_error_code_has_a_scenario() -> None:
    assert sorted(ERROR_SCENARIOS) == sorted(ERROR_CODES)


@pytest.mark.parametrize("code", sorted(ERROR_CODES))
def test_error_code_is_provoked(chain: Any, code: str) -> None:
    ERROR_SCENARIOS[code](chain)  # each scenario asserts the failed receipt carries ``code``


def _transaction(chain: Any, secret: int, nonce_offset: int = 0, **changes: Any) -> Transaction:
    transaction = chain.make_transaction(
        chain.state, secret, "cbdc", "transfer", {"to": chain.address_of(chain.BANKS[1]), "amount": 1}
    )
    fields = {
        "chain_id": transaction.chain_id,
        "sender": transaction.sender,
        "nonce": Nonce(transaction.nonce + nonce_offset),
        "contract": transaction.contract,
        "method": transaction.method,
        "args": transaction.args,
    }
    fields.update(changes)
    return Transaction(**fields)


REJECTION_SCENARIOS: dict[str, Callable[[Any], Transaction]] = {
    "WRONG_CHAIN": lambda chain: _transaction(chain, chain.BANKS[0], chain_id="another-chain"),
    "UNKNOWN_SENDER": lambda chain: _transaction(chain, OUTSIDER),
    "NONCE_REPLAYED": lambda chain: _transaction(chain, chain.BANKS[0], nonce_offset=-1),
    "NONCE_GAP": lambda chain: _transaction(chain, chain.BANKS[0], nonce_offset=1),
    "UNKNOWN_CONTRACT": lambda chain: _transaction(chain, chain.BANKS[0], contract="lottery"),
    "UNKNOWN_METHOD": lambda chain: _transaction(chain, chain.BANKS[0], method="mint"),
    "BAD_ARGUMENTS": lambda chain: _transaction(chain, chain.BANKS[0], args={"to": "XYZ", "amount": 1}),
}


def test_every_rejection_code_has_a_scenario() -> None:
    assert sorted(REJECTION_SCENARIOS) == sorted(REJECTION_CODES)


@pytest.mark.parametrize("code", sorted(REJECTION_CODES))
def test_rejection_code_is_raised_and_changes_nothing(chain: Any, code: str) -> None:
    chain.ok(chain.BANKS[0], "cbdc", "transfer", to=chain.address_of(chain.BANKS[2]), amount=1)  # nonce 1
    transaction = REJECTION_SCENARIOS[code](chain)
    with pytest.raises(TransactionRejected) as raised:
        validate_admissible(chain.state, transaction, chain_id=chain.CHAIN_ID)
    assert raised.value.code == code
    overlay = Overlay(chain.state)
    with pytest.raises(TransactionRejected):
        execute_transaction(overlay, transaction, chain.context())
    assert overlay.changes() == []
