"""Genesis builds the first state; queries read it back as JSON."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import pytest

from contracts import queries
from contracts.errors import GenesisInvalid
from contracts.genesis import compute_genesis_changes
from ledger.genesis import GenesisAccount
from ledger.types import Address


def test_genesis_changes_are_sorted_and_deterministic(chain: Any) -> None:
    changes = compute_genesis_changes(chain.make_genesis())
    assert changes == sorted(changes)
    assert changes == compute_genesis_changes(chain.make_genesis())


def test_genesis_accounts_are_queryable(chain: Any) -> None:
    bank = queries.get_account(chain.state, Address(bytes.fromhex(chain.address_of(chain.BANKS[3]))))
    assert bank is not None
    assert bank["role"] == "bank" and bank["hub"] == chain.HUBS[3]
    assert bank["balance"] == chain.BANK_BALANCE and bank["nonce"] == 0
    json.dumps(bank)  # the client API serves it as is
    assert queries.get_account(chain.state, Address(b"\x00" * 20)) is None
    assert queries.get_security(chain.state, "no/such id") is None


def test_genesis_without_a_regulator_is_refused(chain: Any) -> None:
    genesis = chain.make_genesis()
    accounts = tuple(a for a in genesis.accounts if a.role != "regulator")
    with pytest.raises(GenesisInvalid):
        compute_genesis_changes(dataclasses.replace(genesis, accounts=accounts))


def test_genesis_institution_needs_a_genesis_bank_sponsor(chain: Any) -> None:
    genesis = chain.make_genesis()
    orphan = GenesisAccount(
        "acme", chain.get_key(70).public_key, "institution", "beijing", 0, sponsor="nobody"
    )
    with pytest.raises(GenesisInvalid):
        compute_genesis_changes(dataclasses.replace(genesis, accounts=(*genesis.accounts, orphan)))
