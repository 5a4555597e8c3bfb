"""`hubledger keygen` makes a key a bank can register; `hubledger contracts` lists what submit can call."""

from __future__ import annotations

import contextlib
import io
import json
from pathlib import Path

from contracts.registry import CONTRACTS
from hubledger_tools.cli.main import main
from ledger.keys import PrivateKey


def run(argv: list[str]) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        status = main(argv)
    return status, out.getvalue(), err.getvalue()


def test_keygen_writes_a_private_key_and_never_overwrites_it(tmp_path: Path) -> None:
    path = tmp_path / "bank.pem"
    status, out, _ = run(["keygen", "--out", str(path), "--json"])
    assert status == 0
    described = json.loads(out)
    key = PrivateKey.load(path)
    assert described["address"] == key.public_key.address.hex()
    assert described["public_key"] == key.public_key.hex()
    assert path.stat().st_mode & 0o777 == 0o600
    before = path.read_bytes()
    status, _, err = run(["keygen", "--out", str(path)])
    assert status == 2 and "already exists" in err and len(err.splitlines()) == 1
    assert path.read_bytes() == before


def test_contracts_lists_every_method_of_the_registry_with_its_arguments() -> None:
    status, out, _ = run(["contracts", "--json"])
    assert status == 0
    listed = json.loads(out)
    assert {contract: set(methods) for contract, methods in listed.items()} == {
        contract: set(methods) for contract, methods in CONTRACTS.items()
    }
    assert listed["cbdc"]["transfer"] == {
        "required": ["to", "amount"],
        "optional": [],
        "command": "hubledger transfer",
    }
    status, table, _ = run(["contracts"])
    assert "set_limit" in table and "account, transfer_max" in table and "[name]" in table
