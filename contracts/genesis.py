"""The first state, computed from the genesis document.

Genesis accounts (the central bank, the regulator, one bank per hub, perhaps
institutions) are written with their roles, hubs, sponsors and balances; the
hubs they name are registered; total supply is the sum of the genesis
balances. The result is sorted by key, as every change list is.
"""

from __future__ import annotations

from contracts import keys
from contracts.errors import GenesisInvalid
from contracts.records import AccountRecord, HubRecord, encode_int
from ledger.genesis import Genesis, GenesisAccount
from ledger.types import UINT63_MAX


def compute_genesis_changes(genesis: Genesis) -> list[tuple[bytes, bytes]]:
    validate_genesis_accounts(genesis)
    banks = {account.name: account.address for account in genesis.accounts if account.role == "bank"}
    changes: dict[bytes, bytes] = {}
    supply = 0
    for account in genesis.accounts:
        record = AccountRecord(
            public_key=account.public_key.data,
            name=account.name,
            role=account.role,
            hub=account.hub,
            sponsor=banks[account.sponsor] if account.sponsor else None,
            frozen=False,
            transfer_max=None,
        )
        changes[keys.get_account_key(account.address)] = record.encode()
        changes[keys.get_hub_key(account.hub)] = HubRecord(account.hub).encode()
        if account.balance:
            changes[keys.get_balance_key(account.address)] = encode_int(account.balance)
        supply += account.balance
    if supply:
        changes[keys.TOTAL_SUPPLY] = encode_int(supply)
    return sorted(changes.items())


def validate_genesis_accounts(genesis: Genesis) -> None:
    """Raise GenesisInvalid unless the genesis accounts form a governable network."""
    roles = [account.role for account in genesis.accounts]
    for role in ("central_bank", "regulator"):
        if roles.count(role) != 1:
            raise GenesisInvalid(f"genesis must hold exactly one {role.replace('_', ' ')} account")
    names = [account.name for account in genesis.accounts]
    if len(set(names)) != len(names):
        raise GenesisInvalid("two genesis accounts share a name")
    banks = {account.name for account in genesis.accounts if account.role == "bank"}
    if not banks:
        raise GenesisInvalid("genesis must hold at least one bank")
    for account in genesis.accounts:
        _validate_account(account, banks)
    if sum(account.balance for account in genesis.accounts) > UINT63_MAX:
        raise GenesisInvalid("genesis balances add up to more than 2**63 - 1")


def _validate_account(account: GenesisAccount, banks: set[str]) -> None:
    try:
        keys.get_hub_key(account.hub)
    except (ValueError, UnicodeEncodeError):
        raise GenesisInvalid(f"account {account.name!r} names an invalid hub {account.hub!r}") from None
    if account.role == "institution":
        if account.sponsor not in banks:
            raise GenesisInvalid(f"institution {account.name!r} is sponsored by no genesis bank")
    elif account.sponsor:
        raise GenesisInvalid(f"only institutions have a sponsor; {account.name!r} is a {account.role}")
