"""``hubledger submit``: sign and submit any contract call given as JSON."""

from __future__ import annotations

import argparse
import json
from typing import Any

from hubledger_tools.cli import arguments as types
from hubledger_tools.cli.common import add_client_arguments, connect, refuse_float
from hubledger_tools.cli.contracts import CONTRACT_NAMES, get_method_names
from hubledger_tools.cli.errors import UsageError
from hubledger_tools.cli.fate import run_and_print


def add_submit_command(commands: Any) -> None:
    text = "sign and submit any contract call (hubledger contracts lists them)"
    submit = commands.add_parser("submit", help=text, description=text)
    add_client_arguments(submit)
    submit.add_argument("--contract", required=True, choices=CONTRACT_NAMES, help="the contract")
    submit.add_argument("--method", required=True, help="one of the contract's methods")
    submit.add_argument(
        "--args",
        type=call_arguments,
        default={},
        metavar="JSON",
        help='the call\'s arguments as a JSON object of integers and strings, e.g. {"amount": 2500} '
        "(default {})",
    )
    submit.add_argument(
        "--nonce", type=types.nonce, help="default: the sender's next nonce, asked from the node"
    )
    submit.set_defaults(handler=_submit)


def call_arguments(text: str) -> dict[str, Any]:
    try:
        document = json.loads(text, parse_float=refuse_float)
    except (ValueError, RecursionError) as error:
        raise argparse.ArgumentTypeError(f"not a JSON object of integers and strings: {error}") from None
    if not isinstance(document, dict):
        raise argparse.ArgumentTypeError(f"{text[:40]!r} is not a JSON object")
    return document


def _submit(arguments: argparse.Namespace) -> int:
    methods = get_method_names(arguments.contract)
    if arguments.method not in methods:
        raise UsageError(
            f"argument --method: contract {arguments.contract} has no method {arguments.method!r}; "
            f"choose from {', '.join(methods)}"
        )
    return run_and_print(_call(arguments), as_json=arguments.json)


async def _call(arguments: argparse.Namespace) -> dict[str, Any]:
    async with connect(arguments) as client:
        return await client.call(
            arguments.key,
            arguments.contract,
            arguments.method,
            arguments.args,
            wait=arguments.wait,
            nonce=arguments.nonce,
        )
