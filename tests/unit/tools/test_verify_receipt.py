"""``hubledger verify-receipt`` proves finality and the outcome: a FAILED transaction is not "final, 0"."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from hubledger_tools.cli.errors import ExitStatus
from hubledger_tools.cli.main import main
from node.proofs import build_proof
from tests.unit.node.audit_chain import AuditChain, build_audit_chain


@pytest.fixture(scope="module")
def audit(tmp_path_factory: pytest.TempPathFactory) -> AuditChain:
    return build_audit_chain(
        tmp_path_factory.mktemp("receipt") / "net",
        block_count=1,
        transfers_per_block=3,
        overdrawn_nonces=frozenset({1}),
    )


def write_proof(audit: AuditChain, index: int, path: Path) -> Path:
    document = build_proof(audit.chain, audit.blocks[0][0].transactions[index].id)
    path.write_text(json.dumps(document, indent=2))
    return path


def verify(audit: AuditChain, proof: Path, *options: str) -> int:
    return main(["verify-receipt", str(proof), "--genesis", str(audit.genesis_file), *options])


def test_a_successful_transaction_is_final_and_says_so(
    audit: AuditChain, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    proof = write_proof(audit, 0, tmp_path / "proof.json")
    assert verify(audit, proof) == ExitStatus.OK
    out = capsys.readouterr().out.splitlines()
    transaction_id = audit.blocks[0][0].transactions[0].id.hex()
    assert out[0].startswith(f"transaction {transaction_id} is final: committed at height 1, position 0 (")
    assert out[1] == "  outcome: success"
    assert out[2].startswith("  event Transfer(") and "amount=100 fen" in out[2]


def test_a_failed_transaction_exits_with_its_own_status_and_prints_its_code(
    audit: AuditChain, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    proof = write_proof(audit, 1, tmp_path / "proof.json")
    assert verify(audit, proof) == ExitStatus.TRANSACTION_FAILED
    assert int(ExitStatus.TRANSACTION_FAILED) == 7  # documented: docs/api.md
    out = capsys.readouterr().out.splitlines()
    assert "is final: committed at height 1, position 1" in out[0]
    assert out[1].startswith("  outcome: FAILED INSUFFICIENT_FUNDS: account ")


def test_finality_only_answers_0_for_a_final_failed_transaction(
    audit: AuditChain, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    proof = write_proof(audit, 1, tmp_path / "proof.json")
    assert verify(audit, proof, "--finality-only") == ExitStatus.OK
    assert "outcome: FAILED INSUFFICIENT_FUNDS" in capsys.readouterr().out  # still shown


def test_json_carries_the_receipt(
    audit: AuditChain, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    proof = write_proof(audit, 1, tmp_path / "proof.json")
    assert verify(audit, proof, "--json") == ExitStatus.TRANSACTION_FAILED
    report = json.loads(capsys.readouterr().out)
    assert (report["height"], report["index"]) == (1, 1)
    assert report["receipt"]["success"] is False
    assert report["receipt"]["code"] == "INSUFFICIENT_FUNDS"


def test_a_receipt_edited_to_success_is_refused(
    audit: AuditChain, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """What the auditor did: edit the proof's receipt of a FAILED transfer to "success": true."""
    proof = write_proof(audit, 1, tmp_path / "proof.json")
    document = json.loads(proof.read_text())
    document["receipt"].update(success=True, code="", message="")
    proof.write_text(json.dumps(document))
    for options in ((), ("--finality-only",)):
        assert verify(audit, proof, *options) == ExitStatus.FAILED
        printed = capsys.readouterr()
        assert printed.out == ""
        assert printed.err.startswith("proof INVALID: RECEIPT_PATH: the receipt's receipt_path leads to")


def test_a_proof_of_the_first_version_is_not_a_proof(
    audit: AuditChain, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    proof = write_proof(audit, 0, tmp_path / "proof.json")
    document = json.loads(proof.read_text())
    del document["receipt_path"]
    document["merkle_path"] = document.pop("transaction_path")
    proof.write_text(json.dumps({**document, "version": 1}))
    assert verify(audit, proof) == ExitStatus.FAILED
    assert capsys.readouterr().err.strip() == (
        "proof INVALID: NOT_A_PROOF: this is not a HubLedger finality proof of version 2 "
        "(format 'hubledger-finality-proof', version 1)"
    )
