"""Settlement subcommands of ``hubledger``: one per row of calls.CALLS.

Every subcommand signs with ``--key``, submits, can ``--wait`` for the commit,
and prints the receipt (``--json`` for machines). Every argument is checked
by its kind's type (hubledger_tools/cli/arguments.py) before anything is sent.
An expiry is an absolute ``--expiry-height`` or ``--expires-in BLOCKS`` after
the current height, which the node is asked for.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hubledger_client.client import Client
from hubledger_tools.cli import arguments as types
from hubledger_tools.cli.calls import CALLS, GROUPS, Argument, Call
from hubledger_tools.cli.common import add_client_arguments, connect, refuse_float
from hubledger_tools.cli.fate import run_and_print

OBLIGATIONS_FORMAT = "a JSON list of {from, to, amount in fen}, or @file.json"


@dataclass(frozen=True)
class Kind:
    parse: Callable[[str], Any]
    metavar: str
    format: str


def parse_obligations(text: str) -> list[dict[str, Any]]:
    """The obligations of a netting call, each party an address and each amount in fen."""
    try:
        raw = Path(text[1:]).read_text(encoding="utf-8") if text.startswith("@") else text
        items = json.loads(raw, parse_float=refuse_float)
    except (OSError, ValueError, RecursionError) as error:
        raise argparse.ArgumentTypeError(f"not {OBLIGATIONS_FORMAT}: {error}") from None
    if not isinstance(items, list) or not items:
        raise argparse.ArgumentTypeError(f"must be {OBLIGATIONS_FORMAT}")
    obligations = []
    for item in items:
        if not isinstance(item, dict) or sorted(item) != ["amount", "from", "to"]:
            raise argparse.ArgumentTypeError(f"{json.dumps(item)[:60]} is not {{from, to, amount}}")
        obligations.append(
            {
                "from": types.address(str(item["from"])),
                "to": types.address(str(item["to"])),
                "amount": types.amount_fen(str(item["amount"])),
            }
        )
    return obligations


KINDS = {
    "fen": Kind(types.amount_fen, "FEN", "fen, a whole number from 1; 1 CNY = 100 fen"),
    "units": Kind(types.units, "UNITS", "a whole number from 1"),
    "limit": Kind(types.limit_fen, "FEN|none", "fen, or none to remove the limit"),
    "address": Kind(types.address, "ADDRESS", types.ADDRESS_FORMAT),
    "public_key": Kind(types.public_key, "PUBLIC_KEY", types.PUBLIC_KEY_FORMAT),
    "id": Kind(types.identifier, "ID", "1 to 64 of A-Z a-z 0-9 . _ : -"),
    "hub": Kind(types.hub_name, "HUB", "lowercase hub name"),
    "name": Kind(types.name, "NAME", "up to 64 printable characters"),
    "obligations": Kind(parse_obligations, "JSON", OBLIGATIONS_FORMAT),
}


def add_settlement_commands(commands: Any) -> None:
    groups = {
        name: commands.add_parser(name, help=text, description=text).add_subparsers(
            dest="action", required=True, metavar="ACTION"
        )
        for name, text in GROUPS.items()
    }
    for call in CALLS:
        group, _, action = call.command.partition(" ")
        parent = groups[group] if action else commands
        parser = parent.add_parser(action or call.command, help=call.help, description=call.help)
        add_client_arguments(parser)
        for argument in call.arguments:
            add_call_argument(parser, argument)
        parser.set_defaults(handler=_run_call, call=call)


def add_call_argument(parser: argparse.ArgumentParser, argument: Argument) -> None:
    flag = "--" + argument.name.replace("_", "-")
    if argument.kind == "expiry":
        expiry = parser.add_mutually_exclusive_group(required=True)
        expiry.add_argument(
            flag, dest=argument.name, type=types.height, metavar="HEIGHT", help=f"{argument.help}"
        )
        expiry.add_argument(
            "--expires-in",
            type=types.blocks,
            metavar="BLOCKS",
            help=f"or: that many blocks after the current height (1 to {types.BLOCKS_MAX})",
        )
        return
    kind = KINDS[argument.kind]
    parser.add_argument(
        flag,
        dest=argument.name,
        type=kind.parse,
        required=True,
        metavar=kind.metavar,
        help=f"{argument.help}: {kind.format}",
    )


def _run_call(arguments: argparse.Namespace) -> int:
    call: Call = arguments.call

    async def run() -> dict[str, Any]:
        async with connect(arguments) as client:
            values = await get_call_values(client, call, arguments)
            return await client.call(arguments.key, call.contract, call.method, values, wait=arguments.wait)

    return run_and_print(run(), as_json=arguments.json)


async def get_call_values(client: Client, call: Call, arguments: argparse.Namespace) -> dict[str, Any]:
    """The contract arguments, checked already; a relative expiry becomes a height here."""
    values = {argument.name: getattr(arguments, argument.name) for argument in call.arguments}
    if getattr(arguments, "expires_in", None) is not None:
        current = int((await client.get_status())["height"])
        values["expiry_height"] = current + arguments.expires_in
    return values
