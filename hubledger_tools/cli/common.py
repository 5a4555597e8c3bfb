"""What the ``hubledger`` subcommands share: the client arguments and how records are printed.

Output convention: amounts of digital currency are printed as integers in fen,
with the unit named (``2500 fen``), exactly as ``--amount`` takes them;
quantities of a security as ``units``. ``--json`` prints the same data as
JSON, amounts as bare integers in fen.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import ssl
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from hubledger_client.client import Client
from hubledger_client.tls import CA_ENVIRONMENT_VARIABLE, find_ca_file, make_client_context
from hubledger_tools.cli import arguments as types
from hubledger_tools.cli.arguments import ADDRESS_FORMAT, DEFAULT_NODE_URL

FEN_FIELDS = frozenset({"amount", "balance", "transfer_max", "net", "total_supply", "locked_in_escrow"})
UNIT_FIELDS = frozenset({"quantity", "supply", "holdings"})
LIMIT_FIELDS = frozenset({"transfer_max"})


def add_node_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--node",
        type=types.node_urls,
        default=DEFAULT_NODE_URL,
        metavar="URL[,URL...]",
        help="client API URL of any hub, https:// (or http:// for a hub with [tls] api_plaintext); "
        f"several separated by commas, the next asked when one cannot answer (default {DEFAULT_NODE_URL})",
    )
    add_ca_argument(parser)


def add_ca_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--ca",
        type=types.ca_certificate,
        default=None,
        metavar="CA.crt",
        help="the network's CA certificate (tls/ca.crt of its directory) to check the hubs against "
        f"(default: ${CA_ENVIRONMENT_VARIABLE}, else .localnet/tls/ca.crt when it exists, "
        "else the system's CAs)",
    )


def add_client_certificate_arguments(parser: argparse.ArgumentParser, *, whose: str) -> None:
    """``--cert``/``--cert-key``: the TLS client certificate to present (``whose`` names the party)."""
    parser.add_argument(
        "--cert",
        type=types.certificate_file,
        default=None,
        metavar="CERT.crt",
        help=f"{whose} TLS client certificate, from the network's tls/clients/ (default: none presented)",
    )
    parser.add_argument(
        "--cert-key",
        type=types.certificate_key_file,
        default=None,
        metavar="KEY.key",
        help="the private key of --cert (default: --cert's file with the suffix .key)",
    )


def make_tls_context(arguments: argparse.Namespace) -> ssl.SSLContext:
    """How the hubs are checked (``--ca``, else the CA found by hubledger_client.tls) and which
    client certificate is shown (``--cert``, when the command has it). A file that cannot be
    used raises TlsSetupError, one sentence naming it."""
    certificate = getattr(arguments, "cert", None)
    key = getattr(arguments, "cert_key", None)
    if certificate is not None and key is None:
        key = certificate.with_suffix(".key")
    return make_client_context(
        find_ca_file(getattr(arguments, "ca", None)), certificate_file=certificate, key_file=key
    )


def connect(arguments: argparse.Namespace) -> Client:
    """The client of the hubs ``--node`` names, checking them against the network's CA: the
    one place a subcommand's connection is made."""
    return Client(arguments.node, ssl_context=make_tls_context(arguments))


def add_json_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table (amounts in fen)")


def add_client_arguments(parser: argparse.ArgumentParser) -> None:
    """The arguments of every command that signs and submits a transaction."""
    add_node_argument(parser)
    parser.add_argument(
        "--key", type=types.key_file, required=True, metavar="KEY.pem", help="PEM key file of the sender"
    )
    parser.add_argument("--wait", action="store_true", help="wait until committed and print the receipt")
    add_json_argument(parser)


def add_reader_arguments(parser: argparse.ArgumentParser) -> None:
    """The arguments of every signed account read."""
    add_node_argument(parser)
    parser.add_argument(
        "--key", type=types.key_file, required=True, metavar="KEY.pem", help="PEM key file of the reader"
    )
    parser.add_argument(
        "--account",
        type=types.address,
        metavar="ADDRESS",
        help=f"the account to read: {ADDRESS_FORMAT} (default: the reader's own)",
    )
    add_json_argument(parser)


def format_value(field: str, value: Any) -> str:
    """One value for people, its unit named: ``2500 fen``, ``10 units``, ``none``."""
    if value is None:
        return "no limit" if field in LIMIT_FIELDS else "none"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int) and field in FEN_FIELDS:
        return f"{value} fen"
    if isinstance(value, int) and field in UNIT_FIELDS:
        return f"{value} units"
    if isinstance(value, Mapping):
        if not value:
            return "none"
        return ", ".join(
            f"{name}: {format_value(field if field in UNIT_FIELDS else name, item)}"
            for name, item in sorted(value.items())
        )
    if isinstance(value, list):
        return ", ".join(format_value(field, item) for item in value) or "none"
    return str(value)


def print_fields(record: Mapping[str, Any], *, indent: str = "") -> None:
    """A record as one ``name value`` line per field."""
    width = max((len(field) for field in record), default=0) + 2
    for field, value in record.items():
        print(f"{indent}{field:<{width}}{format_value(field, value)}")


def print_table(rows: list[Mapping[str, Any]], columns: tuple[str, ...]) -> None:
    """Rows as aligned columns under a header, units named in each cell."""
    cells = [[format_value(column, row.get(column)) for column in columns] for row in rows]
    widths = [max(len(column), *(len(line[index]) for line in cells)) for index, column in enumerate(columns)]
    print(
        "  ".join(column.upper().ljust(width) for column, width in zip(columns, widths, strict=True)).rstrip()
    )
    for line in cells:
        print("  ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True)).rstrip())


def print_json(document: Any) -> None:
    """JSON for machines; a dataclass as its fields, bytes (hashes) as hex."""
    print(json.dumps(document, indent=2, default=_jsonable))


def _jsonable(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {field.name: getattr(value, field.name) for field in dataclasses.fields(value)}
    if isinstance(value, bytes):
        return value.hex()
    if isinstance(value, tuple | Path):
        return list(value) if isinstance(value, tuple) else str(value)
    raise TypeError(f"{type(value).__name__} is not JSON")


def print_record(record: dict[str, Any], *, as_json: bool) -> None:
    if as_json:
        print_json(record)
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
            attributes = ", ".join(
                f"{field}={format_value(field, value)}" for field, value in event["attributes"].items()
            )
            print(f"  event {event['name']}({attributes})")
    elif record["status"] == "rejected":
        print(f"  {record['error']['code']}: {record['error']['message']}")


def refuse_float(text: str) -> Any:
    """``parse_float`` for json.loads: amounts are integers, a float is refused."""
    raise ValueError(f"{text} is not an integer")


def format_fen(amount: int) -> str:
    """Fen as yuan for reports read as money: 1234567 -> '12,345.67 CNY' (integer arithmetic only)."""
    sign = "-" if amount < 0 else ""
    yuan, fen = divmod(abs(amount), 100)
    return f"{sign}{yuan:,}.{fen:02d} CNY"


def read_json_proof(path: Path) -> Any | None:
    """A saved proof as JSON, or None after saying on stderr why it is not one (exit status 1)."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (ValueError, RecursionError) as error:
        print(f"proof INVALID: MALFORMED: {path} is not JSON: {error}", file=sys.stderr)
        return None
