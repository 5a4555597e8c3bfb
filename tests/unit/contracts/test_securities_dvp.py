"""Securities and delivery versus payment: both legs settle together or not at all."""

from __future__ import annotations

from typing import Any

from contracts import accessors, queries
from ledger.types import Address

SECURITY = "CGB-2030"


def address(chain: Any, secret: int) -> Address:
    return Address(bytes.fromhex(chain.address_of(secret)))


def holding(chain: Any, secret: int) -> int:
    return accessors.get_holding(chain.state, address(chain, secret), SECURITY)


def balance(chain: Any, secret: int) -> int:
    return accessors.get_balance(chain.state, address(chain, secret))


def propose(chain: Any, *, dvp_id: str = "d1", amount: int = 5_000, expiry_in: int = 3) -> None:
    seller, buyer = chain.BANKS[0], chain.BANKS[1]
    chain.ok(
        seller,
        "dvp",
        "propose",
        dvp_id=dvp_id,
        counterparty=chain.address_of(buyer),
        security_id=SECURITY,
        quantity=40,
        amount=amount,
        expiry_height=chain.height + expiry_in,
    )


def setup_security(chain: Any) -> None:
    chain.ok(
        chain.BANKS[0], "securities", "create", security_id=SECURITY, name="China Govt Bond 2030", supply=100
    )


def test_create_gives_the_issuer_the_supply_and_transfer_moves_it(chain: Any) -> None:
    setup_security(chain)
    chain.ok(
        chain.BANKS[0],
        "securities",
        "transfer",
        security_id=SECURITY,
        to=chain.address_of(chain.BANKS[2]),
        quantity=30,
    )
    assert (holding(chain, chain.BANKS[0]), holding(chain, chain.BANKS[2])) == (70, 30)
    security = queries.get_security(chain.state, SECURITY)
    assert security is not None and security["issuer"] == chain.address_of(chain.BANKS[0])
    assert security["supply"] == 100
    account = queries.get_account(chain.state, address(chain, chain.BANKS[2]))
    assert account is not None and account["holdings"] == {SECURITY: 30}
    chain.fails(
        "ALREADY_EXISTS", chain.BANKS[1], "securities", "create", security_id=SECURITY, name="again", supply=1
    )


def test_accept_settles_both_legs(chain: Any) -> None:
    seller, buyer = chain.BANKS[0], chain.BANKS[1]
    setup_security(chain)
    propose(chain)
    assert holding(chain, seller) == 60  # locked on propose
    assert [d["dvp_id"] for d in queries.list_open_dvps(chain.state, address(chain, buyer))] == ["d1"]
    chain.ok(buyer, "dvp", "accept", dvp_id="d1")
    assert (holding(chain, seller), holding(chain, buyer)) == (60, 40)
    assert balance(chain, seller) - balance(chain, buyer) == 10_000
    assert queries.list_open_dvps(chain.state, address(chain, buyer)) == []
    chain.fails("INVALID_STATE", buyer, "dvp", "accept", dvp_id="d1")


def test_payment_failure_leaves_securities_locked_and_money_unmoved(chain: Any) -> None:
    seller, buyer = chain.BANKS[0], chain.BANKS[1]
    setup_security(chain)
    propose(chain, amount=chain.BANK_BALANCE + 1)
    before = dict(chain.state.iterate(b""))
    chain.fails("INSUFFICIENT_FUNDS", buyer, "dvp", "accept", dvp_id="d1")
    after = dict(chain.state.iterate(b""))
    changed = {key for key in before.keys() | after.keys() if before.get(key) != after.get(key)}
    assert changed == {b"v1/nonce/" + address(chain, buyer)}
    assert holding(chain, buyer) == 0 and holding(chain, seller) == 60


def test_only_the_counterparty_accepts_and_a_party_cancels(chain: Any) -> None:
    seller = chain.BANKS[0]
    setup_security(chain)
    propose(chain)
    chain.fails("NOT_AUTHORIZED", chain.BANKS[2], "dvp", "accept", dvp_id="d1")
    chain.fails("NOT_AUTHORIZED", chain.BANKS[2], "dvp", "cancel", dvp_id="d1")
    chain.ok(chain.BANKS[1], "dvp", "cancel", dvp_id="d1")
    assert holding(chain, seller) == 100
    chain.fails(
        "ALREADY_EXISTS",
        seller,
        "dvp",
        "propose",
        dvp_id="d1",
        counterparty=chain.address_of(chain.BANKS[1]),
        security_id=SECURITY,
        quantity=1,
        amount=1,
        expiry_height=chain.height + 5,
    )


def test_expiry_blocks_acceptance_and_lets_anyone_release(chain: Any) -> None:
    setup_security(chain)
    propose(chain, expiry_in=3)
    chain.fails("INVALID_STATE", chain.BANKS[3], "dvp", "expire", dvp_id="d1")
    chain.advance(2)
    chain.fails("EXPIRED", chain.BANKS[1], "dvp", "accept", dvp_id="d1")
    chain.ok(chain.BANKS[3], "dvp", "expire", dvp_id="d1")
    assert holding(chain, chain.BANKS[0]) == 100


def test_proposal_needs_the_securities_and_a_future_expiry(chain: Any) -> None:
    setup_security(chain)
    chain.fails(
        "INSUFFICIENT_FUNDS",
        chain.BANKS[2],
        "dvp",
        "propose",
        dvp_id="d2",
        counterparty=chain.address_of(chain.BANKS[1]),
        security_id=SECURITY,
        quantity=1,
        amount=1,
        expiry_height=chain.height + 5,
    )
    chain.fails(
        "EXPIRED",
        chain.BANKS[0],
        "dvp",
        "propose",
        dvp_id="d2",
        counterparty=chain.address_of(chain.BANKS[1]),
        security_id=SECURITY,
        quantity=1,
        amount=1,
        expiry_height=chain.height,
    )
