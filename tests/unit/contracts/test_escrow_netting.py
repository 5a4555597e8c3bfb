"""Escrow keeps locked money in supply; netting settles net positions all or nothing."""

from __future__ import annotations

from typing import Any

from contracts import accessors, queries
from ledger.types import Address


def address(chain: Any, secret: int) -> Address:
    return Address(bytes.fromhex(chain.address_of(secret)))


def balance(chain: Any, secret: int) -> int:
    return accessors.get_balance(chain.state, address(chain, secret))


def lock(chain: Any, escrow_id: str = "e1", expiry_in: int = 5) -> None:
    payer, payee = chain.BANKS[0], chain.BANKS[1]
    chain.ok(
        payer, "escrow", "lock", escrow_id=escrow_id, payee=chain.address_of(payee),
        arbiter=chain.address_of(chain.REGULATOR), amount=300, expiry_height=chain.height + expiry_in,
    )  # fmt: skip


def assert_supply_conserved(chain: Any) -> None:
    balances = sum(balance(chain, secret) for secret in chain.BANKS)
    assert balances + queries.get_locked_in_escrow(chain.state) == queries.get_total_supply(chain.state)


def test_locked_money_is_unspendable_but_counts_in_supply(chain: Any) -> None:
    lock(chain)
    assert balance(chain, chain.BANKS[0]) == chain.BANK_BALANCE - 300
    assert queries.get_locked_in_escrow(chain.state) == 300
    assert_supply_conserved(chain)
    for secret in (chain.BANKS[0], chain.BANKS[1], chain.REGULATOR):
        assert [e["escrow_id"] for e in queries.list_open_escrows(chain.state, address(chain, secret))] == [
            "e1"
        ]


def test_arbiter_releases_to_the_payee(chain: Any) -> None:
    lock(chain)
    chain.fails("NOT_AUTHORIZED", chain.BANKS[1], "escrow", "release", escrow_id="e1")
    chain.ok(chain.REGULATOR, "escrow", "release", escrow_id="e1")
    assert balance(chain, chain.BANKS[1]) == chain.BANK_BALANCE + 300
    assert queries.get_locked_in_escrow(chain.state) == 0
    assert queries.list_open_escrows(chain.state, address(chain, chain.BANKS[0])) == []
    chain.fails("INVALID_STATE", chain.BANKS[0], "escrow", "reclaim", escrow_id="e1")
    assert_supply_conserved(chain)


def test_payer_reclaims_only_after_expiry(chain: Any) -> None:
    lock(chain, expiry_in=3)
    chain.fails("INVALID_STATE", chain.BANKS[0], "escrow", "reclaim", escrow_id="e1")
    chain.advance(3)
    chain.fails("EXPIRED", chain.REGULATOR, "escrow", "release", escrow_id="e1")
    chain.fails("NOT_AUTHORIZED", chain.REGULATOR, "escrow", "reclaim", escrow_id="e1")
    chain.ok(chain.BANKS[0], "escrow", "reclaim", escrow_id="e1")
    assert balance(chain, chain.BANKS[0]) == chain.BANK_BALANCE
    assert_supply_conserved(chain)


def obligation(chain: Any, debtor: int, creditor: int, amount: int) -> dict[str, Any]:
    return {"from": chain.address_of(debtor), "to": chain.address_of(creditor), "amount": amount}


def test_netting_moves_only_net_positions(chain: Any) -> None:
    a, b, c, _ = chain.BANKS
    obligations = [obligation(chain, a, b, 700), obligation(chain, b, c, 500), obligation(chain, c, a, 300)]
    receipt = chain.ok(chain.CENTRAL_BANK, "netting", "settle", obligations=obligations)
    nets = {e.attributes["account"]: e.attributes["net"] for e in receipt.events if e.name == "NetPosition"}
    assert nets == {chain.address_of(a): -400, chain.address_of(b): 200, chain.address_of(c): 200}
    assert [balance(chain, s) - chain.BANK_BALANCE for s in (a, b, c)] == [-400, 200, 200]
    assert_supply_conserved(chain)


def test_netting_with_one_short_bank_settles_nothing(chain: Any) -> None:
    a, b, c, d = chain.BANKS
    chain.ok(c, "cbdc", "transfer", to=chain.address_of(d), amount=chain.BANK_BALANCE - 10)
    before = [balance(chain, s) for s in chain.BANKS]
    obligations = [obligation(chain, a, b, 100), obligation(chain, c, a, 50)]
    receipt = chain.fails("SHORTFALL", chain.CENTRAL_BANK, "netting", "settle", obligations=obligations)
    assert chain.address_of(c) in receipt.message
    assert [balance(chain, s) for s in chain.BANKS] == before


def test_a_bank_may_only_net_what_it_owes(chain: Any) -> None:
    a, b, c, _ = chain.BANKS
    chain.fails("NOT_AUTHORIZED", a, "netting", "settle", obligations=[obligation(chain, b, a, 10)])
    chain.ok(a, "netting", "settle", obligations=[obligation(chain, a, b, 10), obligation(chain, a, c, 5)])
    assert balance(chain, a) == chain.BANK_BALANCE - 15
