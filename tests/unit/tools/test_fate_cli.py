"""What the CLI says and exits with when a transaction's fate is pending, committed, failed or unknown."""

from __future__ import annotations

import json
from typing import Any

import pytest

from hubledger_client.client import Client
from hubledger_client.pending import TransactionPending
from hubledger_tools.cli.errors import ExitStatus
from hubledger_tools.cli.fate import run_and_print
from hubledger_tools.cli.main import main

TRANSACTION_ID = "ab" * 32
NOWHERE = "http://127.0.0.1:1"  # never asked: the client's answers are stubbed below


async def answer(record: dict[str, Any]) -> dict[str, Any]:
    return record


async def run_out(client: Client, transaction: str, *, timeout_ms: int) -> dict[str, Any]:
    raise TransactionPending(transaction, 7, timeout_ms, "pending")


def test_the_exit_statuses_are_the_documented_table() -> None:
    table = {status.name: int(status) for status in ExitStatus}  # REFUSED is BAD_ARGUMENTS's alias
    assert table == {
        "OK": 0,
        "FAILED": 1,
        "BAD_ARGUMENTS": 2,
        "DATABASE_CORRUPT": 3,
        "UNREACHABLE": 4,
        "PENDING": 5,
        "UNKNOWN": 6,
        "TRANSACTION_FAILED": 7,
        "BUG": 70,
        "INTERRUPTED": 130,
    }
    assert int(ExitStatus.REFUSED) == int(ExitStatus.BAD_ARGUMENTS)


def test_a_wait_that_runs_out_exits_5_and_says_the_same_transaction_is_the_safe_retry(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(Client, "wait", run_out)
    argv = ["tx", TRANSACTION_ID, "--wait", "--timeout-ms", "30000", "--json", "--node", NOWHERE]
    assert main(argv) == ExitStatus.PENDING
    printed = capsys.readouterr()
    assert json.loads(printed.out) == {"id": TRANSACTION_ID, "status": "pending"}
    assert printed.err.count("\n") == 1  # one line, no traceback
    assert (
        f"transaction {TRANSACTION_ID} (nonce 7) is still pending after 30000 ms and may yet commit"
        in printed.err
    )
    assert "do not send a new transaction with a new nonce" in printed.err
    assert f"hubledger tx {TRANSACTION_ID} --wait" in printed.err


def test_a_transaction_no_hub_knows_exits_6(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    async def unknown(client: Client, transaction_id: str) -> dict[str, Any]:
        return {"id": transaction_id, "status": "unknown", "at_height": 9}

    monkeypatch.setattr(Client, "find_transaction", unknown)
    assert main(["tx", TRANSACTION_ID.upper(), "--node", f"{NOWHERE},{NOWHERE}"]) == ExitStatus.UNKNOWN
    printed = capsys.readouterr()
    assert printed.out.splitlines() == [f"transaction {TRANSACTION_ID}: unknown", "  as of height 9"]
    assert printed.err == ""


@pytest.mark.parametrize(
    ("record", "pending_exit_status", "status"),
    [
        (
            {"status": "committed", "height": 4, "index": 0, "receipt": {"success": True, "events": []}},
            ExitStatus.PENDING,
            ExitStatus.OK,
        ),
        (
            {
                "status": "committed",
                "height": 4,
                "index": 0,
                "receipt": {"success": False, "code": "INSUFFICIENT_FUNDS", "message": "no", "events": []},
            },
            ExitStatus.PENDING,
            ExitStatus.FAILED,
        ),
        (
            {"status": "rejected", "error": {"code": "NONCE_REPLAYED", "message": "used"}},
            ExitStatus.PENDING,
            ExitStatus.FAILED,
        ),
        ({"status": "pending", "at_height": 3}, ExitStatus.PENDING, ExitStatus.PENDING),
        ({"status": "pending"}, ExitStatus.OK, ExitStatus.OK),  # a submission without --wait: done
        ({"status": "unknown", "at_height": 3}, ExitStatus.PENDING, ExitStatus.UNKNOWN),
    ],
)
def test_each_fate_has_its_exit_status(
    record: dict[str, Any],
    pending_exit_status: ExitStatus,
    status: ExitStatus,
    capsys: pytest.CaptureFixture[str],
) -> None:
    document = {"id": TRANSACTION_ID, **record}
    assert run_and_print(answer(document), as_json=False, pending_exit_status=pending_exit_status) == status
    assert capsys.readouterr().out.startswith(f"transaction {TRANSACTION_ID}: {record['status']}")
