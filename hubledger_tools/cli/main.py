"""The ``hubledger`` command: run and generate networks, submit transactions, read the chain.

Every subcommand checks its arguments and exits with status 2 and one clear
sentence on bad input, never a traceback.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from hubledger_client.client import Client, ClientError
from hubledger_tools.cli.audit import add_audit_commands
from hubledger_tools.cli.bench import add_bench_command
from hubledger_tools.cli.chaos import add_chaos_command
from hubledger_tools.cli.settlement import add_settlement_commands, parse_address
from hubledger_tools.cli.simulate import add_simulate_command
from hubledger_tools.netgen import NetworkLayout, generate_network, parse_hubs
from ledger.errors import LedgerError
from ledger.keys import PrivateKey
from node.errors import ConfigError

DEFAULT_NODE_URL = "http://127.0.0.1:8101"
HUBS_DEFAULT = "beijing,shanghai,shenzhen,hangzhou"


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    arguments = parser.parse_args(argv)
    try:
        return int(arguments.handler(arguments) or 0)
    except (LedgerError, ClientError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except (OSError, TimeoutError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="hubledger", description=__doc__.splitlines()[0] if __doc__ else "")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    netgen = commands.add_parser("netgen", help="generate keys, genesis and node configs for a network")
    netgen.add_argument("--hubs", default=HUBS_DEFAULT, help="comma-separated hub names")
    netgen.add_argument("--out", type=Path, required=True, help="new directory to write the network into")
    netgen.add_argument("--chain-id", default="hubledger-local")
    netgen.add_argument("--api-port-base", type=int, default=8101)
    netgen.add_argument("--p2p-port-base", type=int, default=9101)
    netgen.add_argument(
        "--compose", action="store_true", help="one container per hub: fixed ports, peers by hub name"
    )
    netgen.set_defaults(handler=_netgen)

    node = commands.add_parser("node", help="run one validator node")
    node.add_argument("--config", type=Path, required=True, help="the node's TOML config file")
    node.set_defaults(handler=_node)

    localnet = commands.add_parser("localnet", help="run a local network, one process per hub")
    localnet.add_argument("--hubs", default=HUBS_DEFAULT)
    localnet.add_argument("--dir", type=Path, default=Path(".localnet"))
    localnet.set_defaults(handler=_localnet)

    submit = commands.add_parser("submit", help="sign and submit a contract call")
    _add_client_arguments(submit)
    submit.add_argument("--contract", required=True)
    submit.add_argument("--method", required=True)
    submit.add_argument("--args", default="{}", help="the call's arguments as a JSON object")
    submit.add_argument("--nonce", type=int, help="default: the sender's next nonce, asked from the node")
    submit.set_defaults(handler=_submit)

    readers = (
        ("balance", "print an account's balance"),
        ("account", "print an account"),
        ("dvps", "list an account's open DvP proposals"),
        ("escrows", "list an account's open escrows"),
    )
    for name, help_text in readers:
        reader = commands.add_parser(name, help=help_text)
        reader.add_argument("--node", default=DEFAULT_NODE_URL, help="client API URL of any hub")
        reader.add_argument("--key", type=Path, required=True, help="PEM key file of the reader")
        reader.add_argument("--account", help="address or @key.pem (default: the reader's own)")
        reader.add_argument("--json", action="store_true", help="print JSON")
        reader.set_defaults(handler=_read_account, what=name)

    add_settlement_commands(commands, _add_client_arguments)
    add_simulate_command(commands)
    add_chaos_command(commands)
    add_bench_command(commands)
    add_audit_commands(commands)

    status = commands.add_parser("status", help="print a node's status")
    status.add_argument("--node", default=DEFAULT_NODE_URL)
    status.set_defaults(handler=_status)
    return parser


def _add_client_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--node", default=DEFAULT_NODE_URL, help="client API URL of any hub")
    parser.add_argument("--key", type=Path, required=True, help="PEM key file of the sender")
    parser.add_argument("--wait", action="store_true", help="wait until committed and print the receipt")
    parser.add_argument("--json", action="store_true", help="print JSON")


def _netgen(arguments: argparse.Namespace) -> int:
    layout = NetworkLayout(api_port_base=arguments.api_port_base, p2p_port_base=arguments.p2p_port_base)
    if arguments.compose:
        layout = NetworkLayout(
            api_host="0.0.0.0",  # inside a container, reached through a published port
            p2p_host="0.0.0.0",
            peer_host_template="{hub}",
            fixed_ports=True,
            api_port_base=8000,
            p2p_port_base=9000,
        )
    hubs = parse_hubs(arguments.hubs)
    genesis = generate_network(hubs, arguments.out, chain_id=arguments.chain_id, layout=layout)
    print(f"wrote a {len(hubs)}-hub network for chain {genesis.chain_id} to {arguments.out}")
    for account in genesis.accounts:
        print(f"  {account.name:<18} {account.role:<13} {account.address.hex()}")
    return 0


def _node(arguments: argparse.Namespace) -> int:
    from node.runner import run_node

    run_node(arguments.config)
    return 0


def _localnet(arguments: argparse.Namespace) -> int:
    from hubledger_tools.localnet import run_localnet

    return run_localnet(parse_hubs(arguments.hubs), arguments.dir)


def _submit(arguments: argparse.Namespace) -> int:
    try:
        call_args = json.loads(arguments.args, parse_float=_refuse_float)
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
    async with Client(url) as client:
        return await client.call(key, contract, method, call_args, wait=arguments.wait, nonce=arguments.nonce)


def _status(arguments: argparse.Namespace) -> int:
    async def fetch() -> dict[str, Any]:
        async with Client(arguments.node) as client:
            return await client.get_status()

    print(json.dumps(asyncio.run(fetch()), indent=2))
    return 0


def _read_account(arguments: argparse.Namespace) -> int:
    key = PrivateKey.load(arguments.key)
    address = parse_address(arguments.account) if arguments.account else key.public_key.address.hex()
    what = arguments.what

    async def fetch() -> Any:
        async with Client(arguments.node) as client:
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


def format_fen(amount: int) -> str:
    """Fen as yuan for people: 1234567 -> '12,345.67 CNY' (integer arithmetic only)."""
    sign = "-" if amount < 0 else ""
    yuan, fen = divmod(abs(amount), 100)
    return f"{sign}{yuan:,}.{fen:02d} CNY"


def print_record(record: dict[str, Any], *, as_json: bool) -> None:
    if as_json:
        print(json.dumps(record, indent=2))
        return
    print(f"transaction {record['id']}: {record['status']}")
    if record["status"] == "committed":
        receipt = record["receipt"]
        print(f"  height {record['height']}, position {record['index']}")
        if receipt["success"]:
            print("  result: success")
        else:
            print(f"  result: FAILED {receipt['code']}: {receipt['message']}")
        for event in receipt["events"]:
            attributes = ", ".join(f"{name}={value}" for name, value in event["attributes"].items())
            print(f"  event {event['name']}({attributes})")
    elif record["status"] == "rejected":
        print(f"  {record['error']['code']}: {record['error']['message']}")


def _refuse_float(text: str) -> Any:
    raise ValueError(f"{text} is not an integer")


if __name__ == "__main__":
    sys.exit(main())
