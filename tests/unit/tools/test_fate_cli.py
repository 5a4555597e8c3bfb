"""What the CLI says and exits with when a transaction's fate is pending, committed, failed or unknown."""

from __future__ import annotations

import json
from typing import Any

import pytest

from hubledger_client.pending import TransactionPending
from hubledger_tools.cli.fate import PENDING_EXIT_STATUS, UNKNOWN_EXIT_STATUS, run_and_print

TRANSACTION_ID = "ab" * 32


async def answer(record: dict[str, Any]) -> dict[str, Any]:
    return record


async def run_out() -> dict[str, Any]:
    raise TransactionPending(TRANSACTION_ID, 7, 30_000, "pending")


def test_a_wait_that_runs_out_exits_3_and_says_the_same_transaction_is_the_safe_retry(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert run_and_print(run_out(), as_json=True) == PENDING_EXIT_STATUS == 3
    printed = capsys.readouterr()
    assert json.loads(printed.out) == {"id": TRANSACTION_ID, "status": "pending"}
    assert printed.err.count("\n") == 1  # one line, no traceback
    assert (
        f"transaction {TRANSACTION_ID} (nonce 7) is still pending after 30000 ms and may yet commit"
        in printed.err
    )
    assert "do not send a new transaction with a new nonce" in printed.err
    assert f"hubledger tx {TRANSACTION_ID} --wait" in printed.err


@pytest.mark.parametrize(
    ("record", "pending_exit_status", "status"),
    [
        ({"status": "committed", "height": 4, "index": 0, "receipt": {"success": True, "events": []}}, 3, 0),
        (
            {
                "status": "committed",
                "height": 4,
                "index": 0,
                "receipt": {"success": False, "code": "INSUFFICIENT_FUNDS", "message": "no", "events": []},
            },
            3,
            1,
        ),
        ({"status": "rejected", "error": {"code": "NONCE_REPLAYED", "message": "used"}}, 3, 1),
        ({"status": "pending", "at_height": 3}, 3, PENDING_EXIT_STATUS),
        ({"status": "pending"}, 0, 0),  # a submission without --wait: accepted is done
        ({"status": "unknown", "at_height": 3}, 3, UNKNOWN_EXIT_STATUS),
    ],
)
def test_each_fate_has_its_exit_status(
    record: dict[str, Any], pending_exit_status: int, status: int, capsys: pytest.CaptureFixture[str]
) -> None:
    document = {"id": TRANSACTION_ID, **record}
    assert run_and_print(answer(document), as_json=False, pending_exit_status=pending_exit_status) == status
    assert capsys.readouterr().out.startswith(f"transaction {TRANSACTION_ID}: {record['status']}")
