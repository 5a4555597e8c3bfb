"""A transaction's fate on the command line: ``hubledger tx ID`` and what ``--wait`` says when it runs out.

The exit statuses are those of every command (cli/errors.py): 0 committed and
succeeded; 1 committed with a failed receipt, or rejected; 5 still pending: a
``--wait`` that ran out, or ``tx`` of a transaction a hub holds; it may yet
commit, and the safe retry is the same signed transaction, or the same nonce,
never a new one; 6 unknown to every hub asked (``tx`` only: never seen, or lost
with the hub that held it).
"""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Coroutine
from typing import Any

from hubledger_client.client import WAIT_TIMEOUT_MS_DEFAULT
from hubledger_client.pending import TransactionPending
from hubledger_tools.cli import arguments as types
from hubledger_tools.cli.common import add_json_argument, add_node_argument, connect, print_json, print_record
from hubledger_tools.cli.errors import ExitStatus

TIMEOUT_MS_MAX = 24 * 3600 * 1000
timeout_ms = types.WholeNumber(1, TIMEOUT_MS_MAX, "a time in milliseconds")


def add_tx_command(commands: Any) -> None:
    tx = commands.add_parser(
        "tx",
        help="say what became of a transaction: pending, committed or unknown",
        description="say what became of a transaction, asking each hub given in turn",
    )
    tx.add_argument(
        "transaction_id", type=types.transaction_id, metavar="ID", help="its id: 64 hex characters"
    )
    add_node_argument(tx)
    tx.add_argument("--wait", action="store_true", help="wait until it is committed or rejected")
    tx.add_argument(
        "--timeout-ms",
        type=timeout_ms,
        default=WAIT_TIMEOUT_MS_DEFAULT,
        metavar="MS",
        help=f"how long --wait waits, 1 to {TIMEOUT_MS_MAX} (default {WAIT_TIMEOUT_MS_DEFAULT})",
    )
    add_json_argument(tx)
    tx.set_defaults(handler=_tx)


def _tx(arguments: argparse.Namespace) -> int:
    async def fetch() -> dict[str, Any]:
        async with connect(arguments) as client:
            if arguments.wait:
                return await client.wait(arguments.transaction_id, timeout_ms=arguments.timeout_ms)
            return await client.find_transaction(arguments.transaction_id)

    return run_and_print(fetch(), as_json=arguments.json, pending_exit_status=ExitStatus.PENDING)


def run_and_print(
    submission: Coroutine[Any, Any, dict[str, Any]],
    *,
    as_json: bool,
    pending_exit_status: ExitStatus = ExitStatus.OK,
) -> ExitStatus:
    """Run a submission or a status question, print the record, and answer the exit status.
    ``pending_exit_status``: what a pending answer exits with (a submission without --wait
    is done once accepted; a status question is not). A wait that runs out raises
    TransactionPending, which main() reports (exit status 5), after its record with --json."""
    try:
        record = asyncio.run(submission)
    except TransactionPending as pending:
        if as_json:
            print_json({"id": pending.transaction_id, "status": pending.status})
        raise
    print_record(record, as_json=as_json)
    if not as_json and record["status"] in ("pending", "unknown") and "at_height" in record:
        print(f"  as of height {record['at_height']}")
    return get_exit_status(record, pending_exit_status)


def get_exit_status(record: dict[str, Any], pending_exit_status: ExitStatus) -> ExitStatus:
    status = record["status"]
    if status == "committed":
        return ExitStatus.OK if record["receipt"]["success"] else ExitStatus.FAILED
    if status == "rejected":
        return ExitStatus.FAILED
    if status == "unknown":
        return ExitStatus.UNKNOWN
    return pending_exit_status
