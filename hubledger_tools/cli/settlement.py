"""Settlement subcommands of ``hubledger``: one per contract call a bank's developer scripts.

Each is a row of CALLS: the subcommand, the contract and method it calls, and
its arguments. Every subcommand signs with ``--key``, submits, can ``--wait``
for the commit, and prints the receipt (``--json`` for machines). An address
argument takes 40 hex characters or ``@file.pem`` (the address of that key).
"""

from __future__ import annotations

import argparse
import asyncio
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hubledger_tools.cli.common import add_client_arguments, make_client, print_record, refuse_float
from ledger.errors import LedgerError
from ledger.keys import PrivateKey, PublicKey, load_public_pem


@dataclass(frozen=True)
class Argument:
    name: str  # the contract's argument name
    kind: str  # "int", "text", "address", "public_key" or "obligations"
    help: str


@dataclass(frozen=True)
class Call:
    command: str
    contract: str
    method: str
    arguments: tuple[Argument, ...]
    help: str


ADDRESS = "address"
CALLS = (
    Call(
        "register-bank",
        "accounts",
        "register_bank",
        (
            Argument("public_key", "public_key", "the bank's key (hex or @file.pem)"),
            Argument("hub", "text", "the bank's home hub"),
        ),
        "central bank: register a bank",
    ),
    Call(
        "register-institution",
        "accounts",
        "register_institution",
        (
            Argument("public_key", "public_key", "the institution's key (hex or @file.pem)"),
            Argument("hub", "text", "the institution's home hub"),
        ),
        "bank: register a customer institution",
    ),
    Call(
        "freeze",
        "accounts",
        "freeze",
        (Argument("account", ADDRESS, "account to freeze"),),
        "regulator: freeze an account",
    ),
    Call(
        "unfreeze",
        "accounts",
        "unfreeze",
        (Argument("account", ADDRESS, "account to unfreeze"),),
        "regulator: unfreeze an account",
    ),
    Call(
        "set-limit",
        "accounts",
        "set_limit",
        (
            Argument("account", ADDRESS, "account"),
            Argument("transfer_max", "int", "largest single transfer, fen"),
        ),
        "sponsoring bank or regulator: cap an account's single transfer",
    ),
    Call(
        "issue",
        "cbdc",
        "issue",
        (Argument("to", ADDRESS, "receiving bank"), Argument("amount", "int", "fen")),
        "central bank: issue digital currency to a bank",
    ),
    Call(
        "redeem",
        "cbdc",
        "redeem",
        (Argument("amount", "int", "fen"),),
        "bank: redeem digital currency to the central bank",
    ),
    Call(
        "transfer",
        "cbdc",
        "transfer",
        (Argument("to", ADDRESS, "receiver"), Argument("amount", "int", "fen")),
        "pay another account",
    ),
    Call(
        "create-security",
        "securities",
        "create",
        (
            Argument("security_id", "text", "identifier, e.g. CGB-2030"),
            Argument("name", "text", "name"),
            Argument("supply", "int", "units issued to you"),
        ),
        "bank: create a security",
    ),
    Call(
        "transfer-security",
        "securities",
        "transfer",
        (
            Argument("security_id", "text", "security"),
            Argument("to", ADDRESS, "receiver"),
            Argument("quantity", "int", "units"),
        ),
        "deliver units of a security",
    ),
    Call(
        "dvp propose",
        "dvp",
        "propose",
        (
            Argument("dvp_id", "text", "identifier you choose"),
            Argument("counterparty", ADDRESS, "buyer"),
            Argument("security_id", "text", "security delivered"),
            Argument("quantity", "int", "units"),
            Argument("amount", "int", "payment in fen"),
            Argument("expiry_height", "int", "last height to accept"),
        ),
        "propose delivery versus payment",
    ),
    Call(
        "dvp accept",
        "dvp",
        "accept",
        (Argument("dvp_id", "text", "the proposal"),),
        "counterparty: accept; both legs settle together",
    ),
    Call(
        "dvp cancel",
        "dvp",
        "cancel",
        (Argument("dvp_id", "text", "the proposal"),),
        "either side: cancel before acceptance",
    ),
    Call(
        "escrow lock",
        "escrow",
        "lock",
        (
            Argument("escrow_id", "text", "identifier you choose"),
            Argument("payee", ADDRESS, "payee"),
            Argument("arbiter", ADDRESS, "arbiter"),
            Argument("amount", "int", "fen"),
            Argument("expiry_height", "int", "height after which you may reclaim"),
        ),
        "lock funds in escrow",
    ),
    Call(
        "escrow release",
        "escrow",
        "release",
        (Argument("escrow_id", "text", "the escrow"),),
        "arbiter or payer: release to the payee",
    ),
    Call(
        "escrow reclaim",
        "escrow",
        "reclaim",
        (Argument("escrow_id", "text", "the escrow"),),
        "payer: reclaim after expiry",
    ),
    Call(
        "net",
        "netting",
        "settle",
        (Argument("obligations", "obligations", "JSON list of {from, to, amount}, or @file.json"),),
        "settle interbank obligations by multilateral netting",
    ),
)


GROUPS = {
    "dvp": "delivery versus payment: propose, accept, cancel",
    "escrow": "escrow: lock, release, reclaim",
}


def add_settlement_commands(commands: Any) -> None:
    groups = {
        name: commands.add_parser(name, help=text).add_subparsers(
            dest="action", required=True, metavar="ACTION"
        )
        for name, text in GROUPS.items()
    }
    for call in CALLS:
        group, _, action = call.command.partition(" ")
        parent = groups[group] if action else commands
        parser = parent.add_parser(action or call.command, help=call.help)
        add_client_arguments(parser)
        for argument in call.arguments:
            parser.add_argument(f"--{argument.name.replace('_', '-')}", required=True, help=argument.help)
        parser.set_defaults(handler=_run_call, call=call)


def _run_call(arguments: argparse.Namespace) -> int:
    call: Call = arguments.call
    values = {item.name: parse_value(item, getattr(arguments, item.name)) for item in call.arguments}
    key = PrivateKey.load(arguments.key)

    async def run() -> dict[str, Any]:
        async with make_client(arguments) as client:
            return await client.call(key, call.contract, call.method, values, wait=arguments.wait)

    record = asyncio.run(run())
    print_record(record, as_json=arguments.json)
    return 0 if record.get("receipt", {}).get("success", True) else 1


def parse_value(argument: Argument, text: str) -> Any:
    """Turn a command-line string into the contract argument; LedgerError on a bad value."""
    if argument.kind == "int":
        if not text.isdigit():
            raise LedgerError(f"--{argument.name} must be a whole number (amounts are in fen), not {text!r}")
        return int(text)
    if argument.kind == ADDRESS:
        return parse_address(text)
    if argument.kind == "public_key":
        if text.startswith("@"):
            return _key_from_file(Path(text[1:])).hex()
        return text.lower()
    if argument.kind == "obligations":
        return _parse_obligations(text)
    return text


def parse_address(text: str) -> str:
    if text.startswith("@"):
        return _key_from_file(Path(text[1:])).address.hex()
    value = text.lower().removeprefix("0x")
    if len(value) != 40 or any(ch not in "0123456789abcdef" for ch in value):
        raise LedgerError(f"{text!r} is not an address (40 hex characters) or @key-file.pem")
    return value


def _key_from_file(path: Path) -> PublicKey:
    try:
        data = path.read_bytes()
    except OSError as error:
        raise LedgerError(f"cannot read key file {path}: {error.strerror}") from None
    if b"PRIVATE KEY" in data:
        return PrivateKey.from_pem(data).public_key
    return load_public_pem(data)


def _parse_obligations(text: str) -> list[dict[str, Any]]:
    try:
        raw = Path(text[1:]).read_text() if text.startswith("@") else text
        items = json.loads(raw, parse_float=refuse_float)
    except (OSError, ValueError) as error:
        raise LedgerError(f"--obligations is not a JSON list of obligations: {error}") from None
    if not isinstance(items, list):
        raise LedgerError("--obligations must be a JSON list of {from, to, amount}")
    return [
        {
            "from": parse_address(str(item["from"])),
            "to": parse_address(str(item["to"])),
            "amount": item["amount"],
        }
        for item in items
    ]
