"""The settlement calls of ``hubledger``: one row per subcommand a bank's developer scripts.

Each row names the subcommand, the contract and method it calls, and its
arguments with their kinds; hubledger_tools/cli/settlement.py turns every row
into a subcommand, so one piece of code serves them all.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Argument:
    name: str  # the contract's argument name; the flag is --name-with-dashes
    kind: str  # a key of settlement.KINDS
    help: str


@dataclass(frozen=True)
class Call:
    command: str
    contract: str
    method: str
    arguments: tuple[Argument, ...]
    help: str


CALLS = (
    Call(
        "register-bank",
        "accounts",
        "register_bank",
        (
            Argument("public_key", "public_key", "the bank's public key"),
            Argument("hub", "hub", "the bank's home hub"),
        ),
        "central bank: register a bank",
    ),
    Call(
        "register-institution",
        "accounts",
        "register_institution",
        (
            Argument("public_key", "public_key", "the institution's public key"),
            Argument("hub", "hub", "the institution's home hub"),
        ),
        "bank: register a customer institution",
    ),
    Call(
        "freeze",
        "accounts",
        "freeze",
        (Argument("account", "address", "account to freeze"),),
        "regulator: freeze an account",
    ),
    Call(
        "unfreeze",
        "accounts",
        "unfreeze",
        (Argument("account", "address", "account to unfreeze"),),
        "regulator: unfreeze an account",
    ),
    Call(
        "set-limit",
        "accounts",
        "set_limit",
        (
            Argument("account", "address", "account"),
            Argument("transfer_max", "limit", "largest single transfer"),
        ),
        "sponsoring bank or regulator: cap an account's single transfer, or remove the cap with none",
    ),
    Call(
        "issue",
        "cbdc",
        "issue",
        (Argument("to", "address", "receiving bank"), Argument("amount", "fen", "amount")),
        "central bank: issue digital currency to a bank",
    ),
    Call(
        "redeem",
        "cbdc",
        "redeem",
        (Argument("amount", "fen", "amount"),),
        "bank: redeem digital currency to the central bank",
    ),
    Call(
        "transfer",
        "cbdc",
        "transfer",
        (Argument("to", "address", "receiver"), Argument("amount", "fen", "amount")),
        "pay another account",
    ),
    Call(
        "create-security",
        "securities",
        "create",
        (
            Argument("security_id", "id", "identifier, e.g. CGB-2030"),
            Argument("name", "name", "name"),
            Argument("supply", "units", "units issued to you"),
        ),
        "bank: create a security",
    ),
    Call(
        "transfer-security",
        "securities",
        "transfer",
        (
            Argument("security_id", "id", "security"),
            Argument("to", "address", "receiver"),
            Argument("quantity", "units", "units delivered"),
        ),
        "deliver units of a security",
    ),
    Call(
        "dvp propose",
        "dvp",
        "propose",
        (
            Argument("dvp_id", "id", "identifier you choose"),
            Argument("counterparty", "address", "buyer"),
            Argument("security_id", "id", "security delivered"),
            Argument("quantity", "units", "units delivered"),
            Argument("amount", "fen", "payment"),
            Argument("expiry_height", "expiry", "last height at which it can be accepted"),
        ),
        "propose delivery versus payment",
    ),
    Call(
        "dvp accept",
        "dvp",
        "accept",
        (Argument("dvp_id", "id", "the proposal"),),
        "counterparty: accept; both legs settle together",
    ),
    Call(
        "dvp cancel",
        "dvp",
        "cancel",
        (Argument("dvp_id", "id", "the proposal"),),
        "either side: cancel before acceptance",
    ),
    Call(
        "escrow lock",
        "escrow",
        "lock",
        (
            Argument("escrow_id", "id", "identifier you choose"),
            Argument("payee", "address", "payee"),
            Argument("arbiter", "address", "arbiter"),
            Argument("amount", "fen", "amount"),
            Argument("expiry_height", "expiry", "height after which you may reclaim"),
        ),
        "lock funds in escrow",
    ),
    Call(
        "escrow release",
        "escrow",
        "release",
        (Argument("escrow_id", "id", "the escrow"),),
        "arbiter or payer: release to the payee",
    ),
    Call(
        "escrow reclaim",
        "escrow",
        "reclaim",
        (Argument("escrow_id", "id", "the escrow"),),
        "payer: reclaim after expiry",
    ),
    Call(
        "net",
        "netting",
        "settle",
        (Argument("obligations", "obligations", "obligations"),),
        "settle interbank obligations by multilateral netting",
    ),
)


GROUPS = {
    "dvp": "delivery versus payment: propose, accept, cancel",
    "escrow": "escrow: lock, release, reclaim",
}
