"""``hubledger balance``, ``account``, ``dvps``, ``escrows`` and ``status``: read what a node holds.

Account reads are signed (ledger/read_auth.py) with the reader's key: a node
serves an account's data only to those entitled to see it.
"""

from __future__ import annotations

import argparse
import asyncio
import json
from pathlib import Path
from typing import Any

from hubledger_tools.cli.common import DEFAULT_NODE_URL, add_ca_argument, format_fen, make_client
from hubledger_tools.cli.settlement import parse_address
from ledger.keys import PrivateKey


def add_reader_commands(commands: Any) -> None:
    readers = (
        ("balance", "print an account's balance"),
        ("account", "print an account"),
        ("dvps", "list an account's open DvP proposals"),
        ("escrows", "list an account's open escrows"),
    )
    for name, help_text in readers:
        reader = commands.add_parser(name, help=help_text)
        reader.add_argument("--node", default=DEFAULT_NODE_URL, help="client API URL of any hub")
        add_ca_argument(reader)
        reader.add_argument("--key", type=Path, required=True, help="PEM key file of the reader")
        reader.add_argument("--account", help="address or @key.pem (default: the reader's own)")
        reader.add_argument("--json", action="store_true", help="print JSON")
        reader.set_defaults(handler=_read_account, what=name)


def add_status_command(commands: Any) -> None:
    status = commands.add_parser("status", help="print a node's status")
    status.add_argument("--node", default=DEFAULT_NODE_URL)
    add_ca_argument(status)
    status.set_defaults(handler=_status)


def _status(arguments: argparse.Namespace) -> int:
    async def fetch() -> dict[str, Any]:
        async with make_client(arguments) as client:
            return await client.get_status()

    print(json.dumps(asyncio.run(fetch()), indent=2))
    return 0


def _read_account(arguments: argparse.Namespace) -> int:
    key = PrivateKey.load(arguments.key)
    address = parse_address(arguments.account) if arguments.account else key.public_key.address.hex()
    what = arguments.what

    async def fetch() -> Any:
        async with make_client(arguments) as client:
            if what == "dvps":
                return await client.list_dvps(address, signer=key)
            if what == "escrows":
                return await client.list_escrows(address, signer=key)
            return await client.get_account(address, signer=key)

    result = asyncio.run(fetch())
    if what == "balance":
        result = {"address": address, "balance": result["balance"]}
    if arguments.json:
        print(json.dumps(result, indent=2))
    elif what == "balance":
        print(f"{address} {format_fen(int(result['balance']))}")
    elif isinstance(result, list):
        for item in result or [f"no open {what}"]:
            print(item if isinstance(item, str) else json.dumps(item))
    else:
        for name, value in result.items():
            print(f"{name:<16} {value}")
    return 0
