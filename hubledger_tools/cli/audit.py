"""Auditors' commands: ``export``, ``verify-chain``, ``proof`` and ``verify-receipt``.

``export`` and ``proof`` talk to a node; ``verify-chain`` and ``verify-receipt``
need only a file and genesis.json. Verification exits 0 when everything holds,
1 with one line saying exactly where and why when something does not, and 2
on bad arguments or unreadable files. ``verify-receipt`` proves the outcome
too: a proof that holds for a transaction that FAILED exits 7
(ExitStatus.TRANSACTION_FAILED), so a script cannot take a failed payment for
a final one, and can still tell it from a forged proof (1); with
``--finality-only`` it asks only whether the transaction is final, and exits 0.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import os
import sys
from typing import Any

from hubledger_client.proof import ProofInvalid, ProofReport, verify_proof
from hubledger_tools.admin_http import AdminRefused
from hubledger_tools.audit.errors import ChainInvalid
from hubledger_tools.audit.export import AdminAccess, ExportSummary, export_chain
from hubledger_tools.audit.verify_chain import verify_chain
from hubledger_tools.cli import arguments as types
from hubledger_tools.cli.backup import TOKEN_VARIABLE
from hubledger_tools.cli.common import (
    add_client_certificate_arguments,
    add_json_argument,
    add_node_argument,
    connect,
    format_value,
    make_tls_context,
    print_json,
    read_json_proof,
)
from hubledger_tools.cli.errors import ExitStatus, UsageError, print_error
from ledger.genesis import Genesis


def add_audit_commands(commands: Any) -> None:
    export = commands.add_parser("export", help="write blocks with their commit certificates to a file")
    add_node_argument(export)
    export.add_argument(
        "--from", dest="from_height", type=types.first_height, default=1, help="first height (default 1)"
    )
    export.add_argument(
        "--to", dest="to_height", type=types.first_height, help="last height (default: the latest)"
    )
    export.add_argument("--out", type=types.output_file, required=True, help="the file to write (JSON Lines)")
    add_client_certificate_arguments(export, whose="the hub's operator's (only for a hub that prunes)")
    export.add_argument(
        "--admin-token",
        type=types.admin_token,
        default=os.environ.get(TOKEN_VARIABLE),
        help=f"the hub's [admin] token, only for a hub that prunes (default: ${TOKEN_VARIABLE})",
    )
    add_json_argument(export)
    export.set_defaults(handler=_export)

    verify = commands.add_parser("verify-chain", help="check an exported chain offline, re-executing it")
    add_offline_arguments(verify, "a file written by `hubledger export`")
    verify.add_argument("--quiet", action="store_true", help="no progress bar")
    add_json_argument(verify)
    verify.set_defaults(handler=_verify_chain)

    proof = commands.add_parser("proof", help="fetch a transaction's finality proof")
    proof.add_argument("transaction_id", type=types.transaction_id, help="64 hex characters")
    add_node_argument(proof)
    proof.add_argument("--out", type=types.output_file, required=True, help="the file to write (JSON)")
    add_json_argument(proof)
    proof.set_defaults(handler=_proof)

    receipt = commands.add_parser(
        "verify-receipt",
        help="check a transaction's proof offline: final, and its outcome (exit 7 when it FAILED)",
    )
    add_offline_arguments(receipt, "a proof from GET /v1/transactions/{id}/proof (hubledger proof)")
    receipt.add_argument(
        "--finality-only",
        action="store_true",
        help="exit 0 for a final transaction whatever its outcome (still printed)",
    )
    add_json_argument(receipt)
    receipt.set_defaults(handler=_verify_receipt)


def add_offline_arguments(parser: argparse.ArgumentParser, what: str) -> None:
    """The file an offline check reads and the genesis it checks against."""
    parser.add_argument("file", type=types.existing_file, help=what)
    parser.add_argument(
        "--genesis", type=types.existing_file, required=True, help="the network's genesis.json"
    )


def _export(arguments: argparse.Namespace) -> int:
    async def export() -> ExportSummary:
        async with connect(arguments) as client:
            token = arguments.admin_token
            admin = None if token is None else AdminAccess(token, make_tls_context(arguments))
            return await export_chain(
                client,
                arguments.out,
                from_height=arguments.from_height,
                to_height=arguments.to_height,
                admin=admin,
            )

    try:
        summary = asyncio.run(export())
    except ValueError as error:
        raise UsageError(str(error)) from None
    except AdminRefused as error:
        print_error(str(error))
        return ExitStatus.REFUSED
    if arguments.json:
        print_json(summary)
        return 0
    print(
        f"exported blocks {summary.from_height}..{summary.to_height} of {summary.chain_id} "
        f"({summary.transactions} transactions) to {arguments.out}"
    )
    return 0


def _verify_chain(arguments: argparse.Namespace) -> int:
    genesis = Genesis.load(arguments.genesis)
    try:
        report = verify_chain(arguments.file, genesis, show_progress=not (arguments.quiet or arguments.json))
    except ChainInvalid as error:
        print(f"chain INVALID at {error}", file=sys.stderr)
        return 1
    if arguments.json:
        print_json(report)
        return 0
    if report.first_block_height > 1:
        print(
            f"chain {report.chain_id} verified: headers and certificates of blocks "
            f"1..{report.first_block_height - 1} (pruned by the hub), the state after block "
            f"{report.first_block_height - 1} against its certified root, then blocks "
            f"{report.first_block_height}..{report.last_height} re-executed "
            f"({report.transactions} transactions)"
        )
    else:
        print(
            f"chain {report.chain_id} verified: blocks 1..{report.last_height}, "
            f"{report.transactions} transactions re-executed; "
            "every link, Merkle root, certificate, receipts root and state root holds"
        )
    print(f"  last block   {report.last_block_hash.hex()}")
    print(f"  state root {report.state_root.hex()}")
    print(f"  total supply {report.total_supply_fen} fen")
    return 0


def _proof(arguments: argparse.Namespace) -> int:
    async def fetch() -> dict[str, Any]:
        async with connect(arguments) as client:
            return await client.get_proof(arguments.transaction_id)

    document = asyncio.run(fetch())
    arguments.out.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
    if arguments.json:
        print_json(
            {"transaction_id": arguments.transaction_id, "height": document["height"], "out": arguments.out}
        )
        return 0
    print(
        f"wrote the finality proof of {arguments.transaction_id} (block {document['height']}) "
        f"to {arguments.out}"
    )
    return 0


def _verify_receipt(arguments: argparse.Namespace) -> int:
    genesis = Genesis.load(arguments.genesis)
    document = read_json_proof(arguments.file)
    if document is None:
        return ExitStatus.FAILED
    try:
        report = verify_proof(document, genesis)
    except ProofInvalid as error:
        print(f"proof INVALID: {error}", file=sys.stderr)
        return ExitStatus.FAILED
    if arguments.json:
        print_json({**dataclasses.asdict(report), "receipt": report.receipt.to_json()})
    else:
        _print_outcome(report)
    if report.succeeded or arguments.finality_only:
        return ExitStatus.OK
    return ExitStatus.TRANSACTION_FAILED


def _print_outcome(report: ProofReport) -> None:
    print(
        f"transaction {report.transaction_id.hex()} is final: committed at height {report.height}, "
        f"position {report.index} ({report.block_hash.hex()}), certified by {', '.join(report.signers)}"
    )
    receipt = report.receipt
    if not receipt.success:
        print(f"  outcome: FAILED {receipt.code}: {receipt.message}")
        return
    print("  outcome: success")
    for event in receipt.events:
        shown = [f"{name}={format_value(name, item)}" for name, item in event.attributes.items()]
        print(f"  event {event.name}({', '.join(shown)})")
