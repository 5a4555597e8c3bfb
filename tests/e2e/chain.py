"""Reading and writing the chain from the host, as an operator would: HTTP and the hubledger CLI."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from hubledger_tools.trust import http_json
from tests.e2e.compose import REPOSITORY

HTTP_TIMEOUT_S = 3.0
SUBMIT_TIMEOUT_S = 60.0
T = TypeVar("T")


def get_json(url: str) -> tuple[int, Any]:
    """(status, document); status 0 when nothing answers (stopped, paused or cut-off node)."""
    try:
        return http_json(url, timeout_s=HTTP_TIMEOUT_S)
    except (OSError, ValueError):
        return 0, None


def get_status(url: str) -> dict[str, Any] | None:
    status, document = get_json(f"{url}/v1/status")
    return document if status == 200 else None


def is_ready(url: str) -> bool:
    return get_json(f"{url}/readyz")[0] == 200


def get_block_hash(url: str, height: int) -> str | None:
    status, document = get_json(f"{url}/v1/blocks/{height}")
    return str(document["hash"]) if status == 200 else None


def wait_until(condition: Callable[[], T | None], timeout_s: float, what: str, poll_s: float = 0.25) -> T:
    """Poll until ``condition`` returns something truthy; fail with ``what`` at the deadline."""
    deadline = time.monotonic() + timeout_s
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s:.0f} s waiting until {what}")
        time.sleep(poll_s)


def run_cli(*arguments: str, timeout_s: float = SUBMIT_TIMEOUT_S) -> dict[str, Any]:
    """Run `hubledger ARGS --json` from the host and return its JSON output."""
    finished = subprocess.run(
        [sys.executable, "-m", "hubledger_tools.cli", *arguments, "--json"],
        capture_output=True, text=True, timeout=timeout_s, cwd=REPOSITORY, check=False,
    )
    if finished.returncode != 0:
        raise AssertionError(
            f"hubledger {' '.join(arguments)} exited with {finished.returncode}: "
            f"{finished.stdout}{finished.stderr}"
        )
    document: dict[str, Any] = json.loads(finished.stdout)
    return document


def get_ca_file(account_key: Path) -> Path:
    """The CA certificate of the network whose accounts/ directory holds ``account_key``."""
    return account_key.parent.parent / "tls" / "ca.crt"


def submit_transfer(url: str, sender_key: Path, to_address: str, amount: int) -> dict[str, Any]:
    """Transfer with the CLI and wait for its commit; returns the committed record."""
    record = run_cli(
        "submit", "--node", url, "--ca", str(get_ca_file(sender_key)), "--key", str(sender_key),
        "--contract", "cbdc", "--method", "transfer",
        "--args", json.dumps({"to": to_address, "amount": amount}), "--wait",
    )
    assert record["status"] == "committed", record
    assert record["receipt"]["success"], record
    return record


def get_own_balance(url: str, key: Path) -> int:
    """The balance of the key's own account, read with a request signed by that key."""
    ca_file = str(get_ca_file(key))
    return int(run_cli("balance", "--node", url, "--ca", ca_file, "--key", str(key))["balance"])
