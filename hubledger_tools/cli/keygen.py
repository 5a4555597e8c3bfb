"""``hubledger keygen``: a new P-256 key in a PEM file, and the address and public key it gives.

The public key is what ``register-bank`` and ``register-institution`` take;
the file is what ``--key`` takes. An existing file is never overwritten.
"""

from __future__ import annotations

import argparse
import os
from typing import Any

from hubledger_tools.cli import arguments as types
from hubledger_tools.cli.common import add_json_argument, print_fields, print_json
from ledger.keys import PrivateKey


def add_keygen_command(commands: Any) -> None:
    text = "write a new P-256 private key to a PEM file (mode 600) and print its address"
    keygen = commands.add_parser("keygen", help=text, description=text)
    keygen.add_argument(
        "--out", type=types.new_file, required=True, metavar="KEY.pem", help="the new file; never overwritten"
    )
    add_json_argument(keygen)
    keygen.set_defaults(handler=_keygen)


def _keygen(arguments: argparse.Namespace) -> int:
    key = PrivateKey.generate()
    # O_EXCL: a file made between the check and now is not overwritten either
    descriptor = os.open(arguments.out, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "wb") as file:
        file.write(key.to_pem())
    described = {
        "file": str(arguments.out),
        "address": key.public_key.address.hex(),
        "public_key": key.public_key.hex(),
    }
    if arguments.json:
        print_json(described)
    else:
        print_fields(described)
    return 0
