"""verify-chain checks an exported chain offline and says exactly where and why it is wrong."""

from __future__ import annotations

import copy
import dataclasses
import io
from pathlib import Path
from typing import Any

import pytest

from contracts.genesis import compute_genesis_changes
from contracts.queries import get_total_supply
from contracts.state import DictState
from hubledger_tools.audit.errors import ChainInvalid
from hubledger_tools.audit.verify_chain import verify_chain
from hubledger_tools.netgen import generate_network
from ledger.block import BlockHeader, compute_transactions_root
from ledger.hashing import Domain, compute_hash
from ledger.receipt import Receipt, compute_receipts_root
from ledger.types import Hash
from tests.unit.node.audit_chain import HUBS, AuditChain, build_audit_chain


@pytest.fixture(scope="module")
def audit(tmp_path_factory: pytest.TempPathFactory) -> AuditChain:
    return build_audit_chain(tmp_path_factory.mktemp("audit") / "net")


def verify_lines(
    audit: AuditChain, tmp_path: Path, lines: list[dict[str, Any]], **header: Any
) -> ChainInvalid:
    path = audit.write_export(tmp_path / "chain.jsonl", lines, **header)
    with pytest.raises(ChainInvalid) as caught:
        verify_chain(path, audit.genesis, show_progress=False)
    return caught.value


def test_an_honest_export_verifies_and_reports_the_final_state(audit: AuditChain, tmp_path: Path) -> None:
    report = verify_chain(audit.write_export(tmp_path / "chain.jsonl"), audit.genesis, show_progress=False)
    last_block, _ = audit.blocks[-1]
    assert (report.blocks, report.transactions) == (4, 12)
    assert report.last_block_hash == last_block.hash
    assert report.state_root == last_block.header.state_root
    transfers_keep_supply = get_total_supply(DictState(compute_genesis_changes(audit.genesis)))
    assert report.total_supply_fen == transfers_keep_supply > 0


def test_a_changed_amount_breaks_the_merkle_root_of_its_block(audit: AuditChain, tmp_path: Path) -> None:
    lines = audit.export_lines()
    lines[1]["transactions"][2]["args"]["amount"] += 1_000_000
    error = verify_lines(audit, tmp_path, lines)
    assert (error.height, error.code, error.line) == (2, "MERKLE_ROOT", 3)
    assert str(error).startswith("block 2 (line 3): MERKLE_ROOT: the transactions hash to Merkle root")


def test_a_missing_block_is_a_height_gap(audit: AuditChain, tmp_path: Path) -> None:
    lines = audit.export_lines()
    del lines[2]
    error = verify_lines(audit, tmp_path, lines)
    assert (error.height, error.code) == (3, "HEIGHT_GAP")
    assert error.message == "expected block 3, found block 4"


def test_a_certificate_short_of_a_quorum_is_refused(audit: AuditChain, tmp_path: Path) -> None:
    lines = audit.export_lines()
    del lines[3]["certificate"]["votes"][0]
    error = verify_lines(audit, tmp_path, lines)
    assert (error.height, error.code, error.message) == (
        4,
        "BAD_CERTIFICATE",
        "certificate has 2 votes, a quorum is 3",
    )


def test_a_forged_vote_is_named(audit: AuditChain, tmp_path: Path) -> None:
    lines = audit.export_lines()
    vote = lines[0]["certificate"]["votes"][1]
    vote["signature"] = vote["signature"][:-2] + ("00" if not vote["signature"].endswith("00") else "01")
    error = verify_lines(audit, tmp_path, lines)
    assert (error.height, error.code) == (1, "BAD_CERTIFICATE")
    assert error.message == f"the vote of validator {vote['validator']} does not verify"


def test_a_rewritten_parent_link_is_a_broken_link(audit: AuditChain, tmp_path: Path) -> None:
    lines = audit.export_lines()
    lines[2]["header"]["previous_hash"] = "00" * 32
    error = verify_lines(audit, tmp_path, lines)
    assert (error.height, error.code) == (3, "BROKEN_LINK")
    assert (
        error.message
        == f"previous_hash is {'00' * 32}, but block 2 hashes to {audit.blocks[1][0].hash.hex()}"
    )


def test_a_quorum_certifying_a_wrong_state_is_caught_by_re_execution(
    audit: AuditChain, tmp_path: Path
) -> None:
    """Even 3 of 4 colluding validators cannot certify a state the transactions do not give."""
    block, _ = audit.blocks[1]
    forged = dataclasses.replace(block.header, state_root=Hash(compute_hash(Domain.STATE_NODE, b"forged")))
    lines = audit.export_lines()
    lines[1]["header"] = forged.to_json()
    lines[1]["certificate"] = audit.certify(forged).to_json()
    error = verify_lines(audit, tmp_path, lines)
    assert (error.height, error.code) == (2, "STATE_ROOT")
    assert error.message.endswith(f"the header says {forged.state_root.hex()}")


def test_a_quorum_certifying_an_outcome_execution_does_not_give_is_caught(
    audit: AuditChain, tmp_path: Path
) -> None:
    """A header whose receipts_root says a transfer did otherwise than it did, though certified."""
    block, _ = audit.blocks[2]
    receipts = list(audit.results[2])
    receipts[0] = Receipt(success=False, code="ACCOUNT_FROZEN", message="the sender is frozen")
    forged = dataclasses.replace(block.header, receipts_root=compute_receipts_root(receipts))
    lines = audit.export_lines()
    lines[2]["header"] = forged.to_json()
    lines[2]["certificate"] = audit.certify(forged).to_json()
    error = verify_lines(audit, tmp_path, lines)
    assert (error.height, error.code) == (3, "RECEIPTS_ROOT")
    assert error.message == (
        f"re-executing the transactions gives receipts with Merkle root {block.header.receipts_root.hex()}, "
        f"the header says {forged.receipts_root.hex()}"
    )


def test_an_export_of_the_first_version_is_named(audit: AuditChain, tmp_path: Path) -> None:
    error = verify_lines(audit, tmp_path, audit.export_lines(), version=1)
    assert (error.height, error.code, error.message) == (0, "NOT_AN_EXPORT", "export version 1 is not 2")


def test_a_replayed_transaction_is_inadmissible_even_when_certified(
    audit: AuditChain, tmp_path: Path
) -> None:
    block, _ = audit.blocks[0]
    replayed = audit.blocks[1][0].transactions[:1] + block.transactions[:1]  # nonce 3, then nonce 0 again
    lines = audit.export_lines()
    header = _forge_body(audit.blocks[1][0].header, replayed)
    lines[1]["header"] = header.to_json()
    lines[1]["transactions"] = [transaction.to_json() for transaction in replayed]
    lines[1]["certificate"] = audit.certify(header).to_json()
    error = verify_lines(audit, tmp_path, lines)
    assert (error.height, error.code) == (2, "INADMISSIBLE_TRANSACTION")
    assert "nonce 0 is already used" in error.message


def _forge_body(header: BlockHeader, transactions: Any) -> BlockHeader:
    return dataclasses.replace(
        header,
        transactions_root=compute_transactions_root(tuple(transactions)),
        transaction_count=len(transactions),
    )


def test_a_truncated_export_says_what_is_missing(audit: AuditChain, tmp_path: Path) -> None:
    error = verify_lines(audit, tmp_path, audit.export_lines()[:3])
    assert (error.height, error.code) == (4, "TRUNCATED")
    assert error.message == "the file ends after block 3; its header promises 4"


def test_another_networks_genesis_is_refused_at_the_first_block(audit: AuditChain, tmp_path: Path) -> None:
    other = generate_network(HUBS, tmp_path / "other")
    path = audit.write_export(tmp_path / "chain.jsonl")
    with pytest.raises(ChainInvalid) as caught:
        verify_chain(path, other, show_progress=False)
    assert (caught.value.height, caught.value.code) == (1, "BROKEN_LINK")
    assert "but the genesis hashes to" in caught.value.message


def test_an_export_that_does_not_start_at_one_cannot_be_re_executed(
    audit: AuditChain, tmp_path: Path
) -> None:
    error = verify_lines(audit, tmp_path, audit.export_lines()[1:], from_height=2)
    assert (error.height, error.code) == (0, "PARTIAL_EXPORT")


def test_garbage_lines_are_malformed_with_their_line_number(audit: AuditChain, tmp_path: Path) -> None:
    lines = copy.deepcopy(audit.export_lines())
    lines[1]["header"]["transactions_root"] = "not hex"
    error = verify_lines(audit, tmp_path, lines)
    assert (error.height, error.code, error.line) == (2, "MALFORMED", 3)


def test_progress_is_shown_for_every_block(audit: AuditChain, tmp_path: Path) -> None:
    from hubledger_tools.audit.progress import Progress

    stream = io.StringIO()
    progress = Progress(4, "blocks verified", stream=stream)
    for _ in range(4):
        progress.advance()
    progress.finish()
    assert "[##############################] 4/4 blocks verified" in stream.getvalue()
