"""A transaction's fate on the command line: ``hubledger tx ID`` and what ``--wait`` says when it runs out.

Exit statuses, the same for every command that submits and for ``tx``: 0
committed and succeeded; 1 committed with a failed receipt, or rejected; 2 bad
arguments or a refusal (the error's code is printed); 3 still pending: the
wait ran out, and the transaction may yet commit (the safe retry is the same
signed transaction, or the same nonce, never a new one); 4 unknown to the
hubs asked (``tx`` only: never seen, or lost with the hub that held it).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Coroutine
from typing import Any

from hubledger_client.client import WAIT_TIMEOUT_MS_DEFAULT, Client
from hubledger_client.pending import TransactionPending
from hubledger_tools.cli.common import DEFAULT_NODE_URL, print_record

COMMITTED_EXIT_STATUS = 0
FAILED_EXIT_STATUS = 1
PENDING_EXIT_STATUS = 3
UNKNOWN_EXIT_STATUS = 4


def add_tx_command(commands: Any) -> None:
    tx = commands.add_parser("tx", help="say what became of a transaction: pending, committed or unknown")
    tx.add_argument("transaction_id", help="64 hex characters")
    tx.add_argument(
        "--node", default=DEFAULT_NODE_URL, help="client API URL of any hub; several separated by commas"
    )
    tx.add_argument("--wait", action="store_true", help="wait until it is committed or rejected")
    tx.add_argument("--timeout-ms", type=int, default=WAIT_TIMEOUT_MS_DEFAULT, help="how long --wait waits")
    tx.add_argument("--json", action="store_true", help="print JSON")
    tx.set_defaults(handler=_tx)


def _tx(arguments: argparse.Namespace) -> int:
    async def fetch() -> dict[str, Any]:
        async with Client(arguments.node) as client:
            if arguments.wait:
                return await client.wait(arguments.transaction_id, timeout_ms=arguments.timeout_ms)
            return await client.find_transaction(arguments.transaction_id)

    return run_and_print(fetch(), as_json=arguments.json, pending_exit_status=PENDING_EXIT_STATUS)


def run_and_print(
    submission: Coroutine[Any, Any, dict[str, Any]], *, as_json: bool, pending_exit_status: int = 0
) -> int:
    """Run a submission or a status question, print the record, and answer the exit status.
    ``pending_exit_status``: what a pending answer exits with (a submission without --wait
    is done once accepted; a status question is not)."""
    try:
        record = asyncio.run(submission)
    except TransactionPending as pending:
        record = {"id": pending.transaction_id, "status": pending.status}
        if as_json:
            print(json.dumps(record, indent=2))
        print(f"error: {pending}", file=sys.stderr)
        return PENDING_EXIT_STATUS
    print_record(record, as_json=as_json)
    if not as_json and record["status"] in ("pending", "unknown") and "at_height" in record:
        print(f"  as of height {record['at_height']}")
    return get_exit_status(record, pending_exit_status)


def get_exit_status(record: dict[str, Any], pending_exit_status: int) -> int:
    status = record["status"]
    if status == "committed":
        return COMMITTED_EXIT_STATUS if record["receipt"]["success"] else FAILED_EXIT_STATUS
    if status == "rejected":
        return FAILED_EXIT_STATUS
    if status == "unknown":
        return UNKNOWN_EXIT_STATUS
    return pending_exit_status
