"""Accounts: registration by role, freezing by the regulator, limits by sponsor or regulator."""

from __future__ import annotations

from typing import Any

from contracts import queries
from ledger.types import Address

INSTITUTION = 60


def address(chain: Any, secret: int) -> Address:
    return Address(bytes.fromhex(chain.address_of(secret)))


def test_central_bank_registers_a_bank_at_a_new_hub(chain: Any) -> None:
    chain.ok(chain.CENTRAL_BANK, "accounts", "register_bank", public_key=chain.public_key_of(61), hub="wuhan")
    account = queries.get_account(chain.state, address(chain, 61))
    assert account is not None
    assert (account["role"], account["hub"], account["sponsor"], account["balance"]) == (
        "bank",
        "wuhan",
        None,
        0,
    )
    chain.ok(61, "accounts", "register_institution", public_key=chain.public_key_of(INSTITUTION))
    institution = queries.get_account(chain.state, address(chain, INSTITUTION))
    assert institution is not None and institution["hub"] == "wuhan"


def test_bank_sponsors_institution_and_sets_its_limit(chain: Any) -> None:
    bank = chain.BANKS[1]
    chain.ok(
        bank, "accounts", "register_institution", public_key=chain.public_key_of(INSTITUTION), hub="beijing"
    )
    account = queries.get_account(chain.state, address(chain, INSTITUTION))
    assert account is not None
    assert (account["role"], account["hub"], account["sponsor"]) == (
        "institution",
        "beijing",
        chain.address_of(bank),
    )
    chain.ok(bank, "accounts", "set_limit", account=chain.address_of(INSTITUTION), transfer_max=500)
    chain.fails(
        "NOT_AUTHORIZED",
        chain.BANKS[0],
        "accounts",
        "set_limit",
        account=chain.address_of(INSTITUTION),
        transfer_max=1,
    )
    account = queries.get_account(chain.state, address(chain, INSTITUTION))
    assert account is not None and account["limits"] == {"transfer_max": 500}
    chain.ok(
        chain.REGULATOR, "accounts", "set_limit", account=chain.address_of(INSTITUTION), transfer_max=None
    )
    account = queries.get_account(chain.state, address(chain, INSTITUTION))
    assert account is not None and account["limits"] == {"transfer_max": None}


def test_institution_at_an_unknown_hub_is_refused(chain: Any) -> None:
    chain.fails(
        "NOT_FOUND",
        chain.BANKS[0],
        "accounts",
        "register_institution",
        public_key=chain.public_key_of(INSTITUTION),
        hub="atlantis",
    )


def test_frozen_account_can_neither_send_nor_receive_until_unfrozen(chain: Any) -> None:
    frozen, other = chain.BANKS[0], chain.BANKS[1]
    chain.ok(chain.REGULATOR, "accounts", "freeze", account=chain.address_of(frozen))
    chain.fails("ACCOUNT_FROZEN", other, "cbdc", "transfer", to=chain.address_of(frozen), amount=1)
    chain.fails("ACCOUNT_FROZEN", frozen, "cbdc", "transfer", to=chain.address_of(other), amount=1)
    chain.fails("INVALID_STATE", chain.REGULATOR, "accounts", "freeze", account=chain.address_of(frozen))
    chain.ok(chain.REGULATOR, "accounts", "unfreeze", account=chain.address_of(frozen))
    chain.ok(frozen, "cbdc", "transfer", to=chain.address_of(other), amount=1)


def test_the_regulator_and_central_bank_cannot_be_frozen(chain: Any) -> None:
    for secret in (chain.CENTRAL_BANK, chain.REGULATOR):
        chain.fails("NOT_AUTHORIZED", chain.REGULATOR, "accounts", "freeze", account=chain.address_of(secret))


def test_only_the_central_bank_registers_banks(chain: Any) -> None:
    chain.fails(
        "NOT_AUTHORIZED",
        chain.BANKS[0],
        "accounts",
        "register_bank",
        public_key=chain.public_key_of(61),
        hub="wuhan",
    )
    chain.fails(
        "NOT_AUTHORIZED",
        chain.REGULATOR,
        "accounts",
        "register_institution",
        public_key=chain.public_key_of(61),
    )
