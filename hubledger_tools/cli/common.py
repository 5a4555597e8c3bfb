"""What the ``hubledger`` subcommands share: the client arguments and how a record is printed."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from hubledger_client.client import Client
from hubledger_client.tls import CA_ENVIRONMENT_VARIABLE, find_ca_file, make_client_context

DEFAULT_NODE_URL = "https://127.0.0.1:8101"


def add_client_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--node", default=DEFAULT_NODE_URL, help="client API URL of any hub")
    add_ca_argument(parser)
    parser.add_argument("--key", type=Path, required=True, help="PEM key file of the sender")
    parser.add_argument("--wait", action="store_true", help="wait until committed and print the receipt")
    parser.add_argument("--json", action="store_true", help="print JSON")


def add_ca_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--ca",
        type=Path,
        default=None,
        help=f"the network's CA certificate to check the hub against (default: ${CA_ENVIRONMENT_VARIABLE}, "
        "else .localnet/tls/ca.crt when it exists)",
    )


def make_client(arguments: argparse.Namespace, url: str | None = None) -> Client:
    """A client of ``--node`` (or ``url``) that checks the hub against the CA of ``--ca``."""
    context = make_client_context(find_ca_file(getattr(arguments, "ca", None)))
    return Client(url or arguments.node, ssl_context=context)


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


def refuse_float(text: str) -> Any:
    """``parse_float`` for json.loads: amounts are integers, a float is refused."""
    raise ValueError(f"{text} is not an integer")
