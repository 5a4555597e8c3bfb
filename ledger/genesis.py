"""The genesis document: the chain id, the validator set and the first accounts.

It is a JSON file written once by ``hubledger netgen`` and shared by every hub.
Its hash (over its canonical CBOR) is the parent hash of block 1, so two nodes
started from different genesis files can never agree on a block.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ledger import cbor
from ledger.errors import DecodeError, LedgerError
from ledger.hashing import Domain, compute_hash
from ledger.keys import PublicKey
from ledger.limits import VALIDATORS_MAX
from ledger.types import Address, Hash, Height, TimestampMs

GENESIS_HEIGHT = Height(0)
ROLES = ("central_bank", "bank", "regulator", "institution")


@dataclass(frozen=True, slots=True)
class Validator:
    name: str
    public_key: PublicKey


@dataclass(frozen=True, slots=True)
class GenesisAccount:
    name: str
    public_key: PublicKey
    role: str
    hub: str
    balance: int
    sponsor: str = ""  # name of the sponsoring bank, for institutions

    @property
    def address(self) -> Address:
        return self.public_key.address


@dataclass(frozen=True)
class Genesis:
    chain_id: str
    genesis_time_ms: TimestampMs
    validators: tuple[Validator, ...]
    accounts: tuple[GenesisAccount, ...]

    @property
    def hash(self) -> Hash:
        return compute_hash(Domain.GENESIS, cbor.encode(self.to_json()))

    @property
    def validator_keys(self) -> tuple[bytes, ...]:
        return tuple(validator.public_key.data for validator in self.validators)

    def validator_index(self, name: str) -> int:
        for index, validator in enumerate(self.validators):
            if validator.name == name:
                return index
        raise LedgerError(f"no validator named {name!r} in genesis", code="UNKNOWN_VALIDATOR")

    def to_json(self) -> dict[str, Any]:
        return {
            "chain_id": self.chain_id,
            "genesis_time_ms": self.genesis_time_ms,
            "validators": [
                {"name": v.name, "public_key": v.public_key.hex()} for v in self.validators
            ],
            "accounts": [
                {
                    "name": a.name,
                    "public_key": a.public_key.hex(),
                    "role": a.role,
                    "hub": a.hub,
                    "balance": a.balance,
                    "sponsor": a.sponsor,
                }
                for a in self.accounts
            ],
        }

    def save(self, path: Path) -> None:
        path.write_text(json.dumps(self.to_json(), indent=2) + "\n")

    @classmethod
    def load(cls, path: Path) -> Genesis:
        try:
            document = json.loads(path.read_text())
        except OSError as error:
            raise DecodeError(f"cannot read genesis file {path}: {error.strerror}") from None
        except UnicodeDecodeError:
            raise DecodeError(f"genesis file {path} is not UTF-8 text") from None
        except json.JSONDecodeError as error:
            raise DecodeError(f"genesis file {path} is not JSON: {error}") from None
        except RecursionError:
            raise DecodeError(f"genesis file {path} is not JSON: nested too deeply") from None
        try:
            return cls.from_json(document)
        except LedgerError as error:
            raise DecodeError(f"genesis file {path}: {error.message}") from None

    @classmethod
    def from_json(cls, value: Any) -> Genesis:
        fields = cbor.expect_map(value, ("chain_id", "genesis_time_ms", "validators", "accounts"), "genesis")
        validators = tuple(
            _validator_from_json(item)
            for item in cbor.expect_list(fields["validators"], "validators", count_max=VALIDATORS_MAX)
        )
        if not validators:
            raise DecodeError("genesis names no validators")
        if len({v.name for v in validators}) != len(validators):
            raise DecodeError("two validators in genesis share a name")
        if len({v.public_key for v in validators}) != len(validators):
            # One key under two indices would cast two votes in every certificate.
            raise DecodeError("two validators in genesis share a public key")
        accounts = tuple(
            _account_from_json(item)
            for item in cbor.expect_list(fields["accounts"], "accounts", count_max=100_000)
        )
        if len({a.address for a in accounts}) != len(accounts):
            raise DecodeError("two accounts in genesis share a public key")
        return cls(
            chain_id=cbor.expect_text(fields["chain_id"], "chain_id", size_max=64),
            genesis_time_ms=TimestampMs(cbor.expect_int(fields["genesis_time_ms"], "genesis_time_ms")),
            validators=validators,
            accounts=accounts,
        )


def _public_key_from_hex(value: Any, what: str) -> PublicKey:
    text = cbor.expect_text(value, what, size_max=66)
    try:
        return PublicKey(bytes.fromhex(text))
    except ValueError:
        raise DecodeError(f"{what} must be a hex string") from None


def _validator_from_json(value: Any) -> Validator:
    fields = cbor.expect_map(value, ("name", "public_key"), "validator")
    return Validator(
        name=cbor.expect_text(fields["name"], "validator name", size_max=64),
        public_key=_public_key_from_hex(fields["public_key"], "validator public_key"),
    )


def _account_from_json(value: Any) -> GenesisAccount:
    fields = cbor.expect_map(
        value, ("name", "public_key", "role", "hub", "balance", "sponsor"), "genesis account"
    )
    role = cbor.expect_text(fields["role"], "account role", size_max=32)
    if role not in ROLES:
        raise DecodeError(f"account role {role!r} is not one of {', '.join(ROLES)}")
    return GenesisAccount(
        name=cbor.expect_text(fields["name"], "account name", size_max=64),
        public_key=_public_key_from_hex(fields["public_key"], "account public_key"),
        role=role,
        hub=cbor.expect_text(fields["hub"], "account hub", size_max=64),
        balance=cbor.expect_int(fields["balance"], "account balance"),
        sponsor=cbor.expect_text(fields["sponsor"], "account sponsor", size_max=64),
    )
