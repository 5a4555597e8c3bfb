"""``hubledger contracts``: every contract, its methods and their arguments, from the contract registry.

What ``submit --contract C --method M --args JSON`` can call; the settlement
subcommand that makes the same call is named beside it.
"""

from __future__ import annotations

import argparse
from typing import Any

from contracts.registry import CONTRACTS
from hubledger_tools.cli.calls import CALLS
from hubledger_tools.cli.common import add_json_argument, print_json

CONTRACT_NAMES = tuple(CONTRACTS)


def get_method_names(contract: str) -> tuple[str, ...]:
    return tuple(CONTRACTS[contract])


def add_contracts_command(commands: Any) -> None:
    text = "list every contract, its methods and their arguments (what submit can call)"
    listing = commands.add_parser("contracts", help=text, description=text)
    add_json_argument(listing)
    listing.set_defaults(handler=_list_contracts)


def describe_contracts() -> dict[str, dict[str, dict[str, Any]]]:
    commands = {(call.contract, call.method): f"hubledger {call.command}" for call in CALLS}
    return {
        contract: {
            method_name: {
                "required": list(method.fields.required),
                "optional": list(method.fields.optional),
                "command": commands.get((contract, method_name)),
            }
            for method_name, method in methods.items()
        }
        for contract, methods in CONTRACTS.items()
    }


def _list_contracts(arguments: argparse.Namespace) -> int:
    described = describe_contracts()
    if arguments.json:
        print_json(described)
        return 0
    for contract, methods in described.items():
        print(contract)
        for method_name, method in methods.items():
            names = [*method["required"], *(f"[{name}]" for name in method["optional"])]
            command = f"  ({method['command']})" if method["command"] else ""
            print(f"  {method_name:<22}{', '.join(names)}{command}")
    print("optional arguments in [brackets]; amounts in fen; addresses as 40 hex characters")
    return 0
