"""``hubledger submit``: sign and submit any contract call given as JSON."""

from __future__ import annotations

import argparse
import asyncio
import json
from typing import Any

from hubledger_tools.cli.common import add_client_arguments, make_client, print_record, refuse_float
from ledger.keys import PrivateKey
from node.errors import ConfigError


def add_submit_command(commands: Any) -> None:
    submit = commands.add_parser("submit", help="sign and submit a contract call")
    add_client_arguments(submit)
    submit.add_argument("--contract", required=True)
    submit.add_argument("--method", required=True)
    submit.add_argument("--args", default="{}", help="the call's arguments as a JSON object")
    submit.add_argument("--nonce", type=int, help="default: the sender's next nonce, asked from the node")
    submit.set_defaults(handler=_submit)


def _submit(arguments: argparse.Namespace) -> int:
    try:
        call_args = json.loads(arguments.args, parse_float=refuse_float)
    except ValueError as error:
        raise ConfigError(f"--args is not a JSON object of integers and strings: {error}") from None
    if not isinstance(call_args, dict):
        raise ConfigError("--args must be a JSON object")
    key = PrivateKey.load(arguments.key)
    record = asyncio.run(
        _call(arguments.node, key, arguments.contract, arguments.method, call_args, arguments)
    )
    print_record(record, as_json=arguments.json)
    return 0 if record.get("receipt", {}).get("success", True) else 1


async def _call(
    url: str, key: PrivateKey, contract: str, method: str, call_args: dict[str, Any], arguments: Any
) -> dict[str, Any]:
    async with make_client(arguments, url) as client:
        return await client.call(key, contract, method, call_args, wait=arguments.wait, nonce=arguments.nonce)
