"""A small genesis network and a driver that executes one transaction per block."""

from __future__ import annotations

import functools
from typing import Any

import pytest

from contracts.context import BlockContext
from contracts.execution import execute_block, get_next_nonce
from contracts.genesis import compute_genesis_changes
from contracts.state import DictState
from ledger.genesis import Genesis, GenesisAccount, Validator
from ledger.keys import PrivateKey
from ledger.receipt import Receipt
from ledger.transaction import Transaction
from ledger.types import Height, Nonce, TimestampMs

CHAIN_ID = "hubledger-test"
HUBS = ("beijing", "shanghai", "shenzhen", "hangzhou")
CENTRAL_BANK = 1
REGULATOR = 2
BANKS = (3, 4, 5, 6)  # one per hub, in HUBS order
BANK_BALANCE = 1_000_000


@functools.cache
def get_key(secret: int) -> PrivateKey:
    return PrivateKey.from_secret(secret)


def address_of(secret: int) -> str:
    return get_key(secret).public_key.address.hex()


def public_key_of(secret: int) -> str:
    return get_key(secret).public_key.hex()


def make_genesis() -> Genesis:
    accounts = [
        GenesisAccount("pboc", get_key(CENTRAL_BANK).public_key, "central_bank", "beijing", 0),
        GenesisAccount("regulator", get_key(REGULATOR).public_key, "regulator", "beijing", 0),
    ]
    for secret, hub in zip(BANKS, HUBS, strict=True):
        accounts.append(GenesisAccount(f"bank-{hub}", get_key(secret).public_key, "bank", hub, BANK_BALANCE))
    validators = tuple(Validator(hub, get_key(100 + i).public_key) for i, hub in enumerate(HUBS))
    return Genesis(CHAIN_ID, TimestampMs(0), validators, tuple(accounts))


def make_transaction(
    state: Any, secret: int, contract: str, method: str, args: dict[str, Any]
) -> Transaction:
    """An unsigned transaction carrying the sender's next nonce (contracts never check signatures)."""
    key = get_key(secret)
    nonce = get_next_nonce(state, key.public_key.address)
    return Transaction(CHAIN_ID, key.public_key.data, Nonce(nonce), contract, method, args)


class Chain:
    """Executes each transaction in a block of its own over a dict-backed state.

    Accounts are named by the integer secret of their deterministic key.
    """

    CHAIN_ID = CHAIN_ID
    CENTRAL_BANK = CENTRAL_BANK
    REGULATOR = REGULATOR
    BANKS = BANKS
    HUBS = HUBS
    BANK_BALANCE = BANK_BALANCE
    get_key = staticmethod(get_key)
    address_of = staticmethod(address_of)
    public_key_of = staticmethod(public_key_of)
    make_genesis = staticmethod(make_genesis)
    make_transaction = staticmethod(make_transaction)

    def __init__(self) -> None:
        self.state = DictState(compute_genesis_changes(make_genesis()))
        self.height = 0

    def context(self) -> BlockContext:
        return BlockContext(CHAIN_ID, Height(self.height + 1), TimestampMs(1000 * (self.height + 1)))

    def send(self, secret: int, contract: str, method: str, **args: Any) -> Receipt:
        transaction = make_transaction(self.state, secret, contract, method, args)
        result = execute_block(self.state, [transaction], self.context(), skip_inadmissible=False)
        self.state.apply_changes(result.changes)
        self.height += 1
        return result.receipts[0]

    def ok(self, secret: int, contract: str, method: str, **args: Any) -> Receipt:
        receipt = self.send(secret, contract, method, **args)
        assert receipt.success, f"{contract}.{method} failed: {receipt.code} {receipt.message}"
        return receipt

    def fails(self, code: str, secret: int, contract: str, method: str, **args: Any) -> Receipt:
        receipt = self.send(secret, contract, method, **args)
        assert not receipt.success and receipt.code == code, (receipt.code, receipt.message)
        return receipt

    def advance(self, blocks: int) -> None:
        self.height += blocks

    def register_institution(self, bank: int, secret: int) -> None:
        self.ok(bank, "accounts", "register_institution", public_key=public_key_of(secret))


@pytest.fixture
def chain() -> Chain:
    return Chain()


@pytest.fixture(scope="session")
def chain_class() -> type[Chain]:
    """The driver class itself, for tests (Hypothesis) that build many chains."""
    return Chain
