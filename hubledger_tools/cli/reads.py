"""``hubledger balance``, ``account``, ``dvps``, ``escrows`` and ``status``: read what a node holds.

Account reads are signed (ledger/read_auth.py) with the reader's key: a node
serves an account's data only to those entitled to see it. People get a
table with units named; ``--json`` gives the node's answer, amounts in fen.
"""

from __future__ import annotations

import argparse
import asyncio
from typing import Any

from hubledger_tools.cli.common import (
    add_json_argument,
    add_node_argument,
    add_reader_arguments,
    connect,
    format_value,
    print_fields,
    print_json,
    print_table,
)

READERS = {
    "balance": "print an account's balance in fen",
    "account": "print an account: role, hub, nonce, balance, limit, holdings",
    "dvps": "list an account's open DvP proposals",
    "escrows": "list an account's open escrows",
}
COLUMNS = {
    "dvps": ("dvp_id", "proposer", "counterparty", "security_id", "quantity", "amount", "expiry_height"),
    "escrows": ("escrow_id", "payer", "payee", "arbiter", "amount", "expiry_height"),
}


def add_reader_commands(commands: Any) -> None:
    for name, help_text in READERS.items():
        reader = commands.add_parser(name, help=help_text, description=help_text)
        add_reader_arguments(reader)
        reader.set_defaults(handler=_read_account, what=name)


def add_status_command(commands: Any) -> None:
    status = commands.add_parser("status", help="print a node's status", description="print a node's status")
    add_node_argument(status)
    add_json_argument(status)
    status.set_defaults(handler=_status)


def _status(arguments: argparse.Namespace) -> int:
    async def fetch() -> dict[str, Any]:
        async with connect(arguments) as client:
            status = await client.get_status()
            return {"url": client.hubs.current} | status  # the hub that answered

    status = asyncio.run(fetch())
    if arguments.json:
        print_json(status)
    else:
        print_fields(status)
    return 0


def _read_account(arguments: argparse.Namespace) -> int:
    key = arguments.key
    address = arguments.account or key.public_key.address.hex()
    what = arguments.what

    async def fetch() -> Any:
        async with connect(arguments) as client:
            if what == "dvps":
                return await client.list_dvps(address, signer=key)
            if what == "escrows":
                return await client.list_escrows(address, signer=key)
            return await client.get_account(address, signer=key)

    result = asyncio.run(fetch())
    if what == "balance":
        result = {"address": address, "balance": result["balance"]}
    if arguments.json:
        print_json(result)
    elif what == "balance":
        print(f"{address} {format_value('balance', result['balance'])}")
    elif isinstance(result, list):
        if result:
            print_table(result, COLUMNS[what])
        else:
            print(f"no open {what} for {address}")
    else:
        limits = result.pop("limits", {})
        print_fields(result | limits)
    return 0
