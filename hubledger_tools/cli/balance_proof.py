"""``balance-proof`` and ``verify-balance``: an account's balance, provable to an auditor offline.

``balance-proof`` asks a node (a signed read: the account, its bank, the central
bank or a regulator, as for ``hubledger account``) for the state proof of an
account (GET /v1/accounts/{address}/proof) and saves it. ``verify-balance``
needs only that file and genesis.json: it checks the commit certificate against
the genesis validators, the header's state root and each record's path to it
(hubledger_client/state_proof.py), trusting no hub. As ``verify-receipt``: exit
0 when everything holds, 1 with one line saying which check failed, 2 on bad
arguments or unreadable files.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from typing import Any

from hubledger_client.proof import ProofInvalid
from hubledger_client.state_proof import AccountStateReport, verify_account_proof
from hubledger_tools.cli import arguments as types
from hubledger_tools.cli.audit import add_offline_arguments
from hubledger_tools.cli.common import (
    add_json_argument,
    add_reader_arguments,
    connect,
    print_json,
    read_json_proof,
)
from hubledger_tools.cli.errors import ExitStatus, print_error
from ledger.genesis import Genesis


def add_balance_proof_commands(commands: Any) -> None:
    fetch = commands.add_parser(
        "balance-proof",
        help="fetch an account's state proof (balance, frozen, limit) for an auditor",
        description="Save the state proof of an account at the node's latest height, or at an earlier "
        "one the node still keeps ([storage] state_history_blocks); check it offline with "
        "`hubledger verify-balance`.",
    )
    add_reader_arguments(fetch)
    fetch.add_argument("--out", type=types.output_file, required=True, help="the file to write (JSON)")
    fetch.add_argument(
        "--height",
        type=types.first_height,
        help="the state after this block (default: the latest; a node proves up to [storage] "
        "state_history_blocks, 1,000 by default, below its latest and refuses older ones with "
        "STATE_NOT_RETAINED)",
    )
    fetch.set_defaults(handler=_balance_proof)

    verify = commands.add_parser("verify-balance", help="check an account's state proof offline")
    add_offline_arguments(verify, "a proof from GET /v1/accounts/{address}/proof (hubledger balance-proof)")
    add_json_argument(verify)
    verify.set_defaults(handler=_verify_balance)


def _balance_proof(arguments: argparse.Namespace) -> int:
    key = arguments.key
    address = arguments.account or key.public_key.address.hex()

    async def fetch() -> Any:
        async with connect(arguments) as client:
            return await client.get_account_proof(address, signer=key, height=arguments.height)

    document = asyncio.run(fetch())
    problem = _describe_mismatch(document, address, arguments.height)
    if problem is not None:  # a hub answering another question: save nothing an auditor may trust
        print_error(f"the node answered {problem}; nothing was saved")
        return ExitStatus.FAILED
    arguments.out.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
    if arguments.json:
        print_json({"address": address, "height": document["height"], "out": arguments.out})
        return ExitStatus.OK
    print(f"wrote the state proof of account {address} (block {document['height']}) to {arguments.out}")
    return ExitStatus.OK


def _describe_mismatch(document: Any, address: str, height: int | None) -> str | None:
    """What in the answer is not what was asked (verify-balance checks the rest), or None."""
    if not isinstance(document, dict):
        return "something that is not a proof document"
    if document.get("address") != address.lower():
        return f"a proof of account {document.get('address')!r}, not of {address}"
    if height is not None and document.get("height") != height:
        return f"a proof at height {document.get('height')!r}, not at {height}"
    return None


def _verify_balance(arguments: argparse.Namespace) -> int:
    genesis = Genesis.load(arguments.genesis)
    document = read_json_proof(arguments.file)
    if document is None:
        return ExitStatus.FAILED
    try:
        report = verify_account_proof(document, genesis)
    except ProofInvalid as error:
        print(f"proof INVALID: {error}", file=sys.stderr)
        return ExitStatus.FAILED
    if arguments.json:
        print_json(report)
        return ExitStatus.OK
    print(describe(report))
    return ExitStatus.OK


def describe(report: AccountStateReport) -> str:
    """The verified facts as a sentence an auditor can quote."""
    certified = (
        f"certified by {len(report.signers)} of {report.validators} validators ({', '.join(report.signers)})"
    )
    where = f"at height {report.height} (block hash {report.block_hash.hex()})"
    if report.record is None:
        return f"account {report.address.hex()} does not exist {where}: it held 0 fen; {certified}"
    record = report.record
    limit = "no limit" if record.transfer_max is None else f"{record.transfer_max} fen"
    return (
        f"account {report.address.hex()} held {report.balance_fen} fen {where}, {certified}\n"
        f"  {record.role} {record.name!r} of hub {record.hub}; "
        f"frozen: {'yes' if record.frozen else 'no'}; transfer limit: {limit}"
    )
