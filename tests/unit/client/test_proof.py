"""A proof built from the chain store verifies offline with genesis alone, proves the outcome,
and fails when any field of it is edited."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from hubledger_client.proof import ProofInvalid, verify_proof
from hubledger_tools.netgen import generate_network
from ledger.types import Hash
from node.proofs import build_proof
from tests.unit.node.audit_chain import HUBS, AuditChain, build_audit_chain


@pytest.fixture(scope="module")
def audit(tmp_path_factory: pytest.TempPathFactory) -> AuditChain:
    return build_audit_chain(
        tmp_path_factory.mktemp("proof") / "net",
        block_count=2,
        transfers_per_block=5,
        overdrawn_nonces=frozenset({7}),  # block 2, position 2: FAILED
    )


@pytest.fixture
def proof(audit: AuditChain) -> dict[str, Any]:
    block, _ = audit.blocks[1]
    document = build_proof(audit.chain, block.transactions[3].id)
    assert document is not None
    return document


def refused(document: Any, audit: AuditChain) -> ProofInvalid:
    with pytest.raises(ProofInvalid) as caught:
        verify_proof(document, audit.genesis)
    return caught.value


def test_every_transaction_of_a_block_has_a_proof_that_verifies(audit: AuditChain) -> None:
    block, _ = audit.blocks[1]
    for index, transaction in enumerate(block.transactions):
        document = build_proof(audit.chain, transaction.id)
        assert document is not None
        report = verify_proof(document, audit.genesis)
        assert (report.transaction_id, report.height, report.index) == (transaction.id, 2, index)
        assert report.block_hash == block.hash
        assert report.signers == ("beijing", "shanghai", "shenzhen")
        assert report.receipt == audit.results[1][index]
        assert report.succeeded == (index != 2)


def test_a_failed_transaction_is_proven_failed_with_its_code(audit: AuditChain) -> None:
    document = build_proof(audit.chain, audit.blocks[1][0].transactions[2].id)
    report = verify_proof(document, audit.genesis)
    assert not report.succeeded
    assert report.receipt.code == "INSUFFICIENT_FUNDS"


def test_a_failed_receipt_edited_to_success_is_refused(audit: AuditChain) -> None:
    document = build_proof(audit.chain, audit.blocks[1][0].transactions[2].id)
    assert document is not None
    document["receipt"].update(success=True, code="", message="")
    error = refused(document, audit)
    assert error.code == "RECEIPT_PATH"
    assert error.message.startswith("the receipt's receipt_path leads to receipts_root")
    assert error.message.endswith(f"the header commits to {document['header']['receipts_root']}")


def test_another_transactions_successful_receipt_cannot_stand_in(audit: AuditChain) -> None:
    """Both paths are bound to one position: the success of transaction 3 is not transaction 2's."""
    block, _ = audit.blocks[1]
    failed = build_proof(audit.chain, block.transactions[2].id)
    succeeded = build_proof(audit.chain, block.transactions[3].id)
    assert failed is not None and succeeded is not None
    forged = {**failed, "receipt": succeeded["receipt"], "receipt_path": succeeded["receipt_path"]}
    error = refused(forged, audit)
    assert (error.code, error.message) == (
        "RECEIPT_PATH",
        "the receipt_path is not the path of position 2 in a block of 5 transactions",
    )
    forged["index"] = 3
    assert refused(forged, audit).code == "MERKLE_PATH"  # the transaction is not at 3


def test_every_edited_field_is_refused(audit: AuditChain, proof: dict[str, Any]) -> None:
    verify_proof(proof, audit.genesis)
    edits = list(_edits(proof))
    assert len(edits) > 60
    for where, edited in edits:
        with pytest.raises(ProofInvalid):
            verify_proof(edited, audit.genesis)
            pytest.fail(f"the proof still verifies with {where} edited")


def test_a_position_outside_the_block_is_refused(audit: AuditChain, proof: dict[str, Any]) -> None:
    proof["index"] = 5
    assert (refused(proof, audit).code, refused(proof, audit).message) == (
        "INDEX",
        "the proof puts the transaction at position 5, but block 2 holds 5 transactions",
    )


def test_an_unknown_transaction_has_no_proof(audit: AuditChain) -> None:
    assert build_proof(audit.chain, Hash(b"\x01" * 32)) is None


def test_a_changed_amount_no_longer_hashes_to_the_proven_id(audit: AuditChain, proof: dict[str, Any]) -> None:
    proof["transaction"]["args"]["amount"] = 10**9
    assert refused(proof, audit).code == "TRANSACTION_ID"


def test_a_changed_transaction_with_its_new_id_is_off_the_merkle_path(
    audit: AuditChain, proof: dict[str, Any]
) -> None:
    other, _ = audit.blocks[0]
    proof["transaction"] = other.transactions[0].to_json()
    proof["transaction_id"] = other.transactions[0].id.hex()
    error = refused(proof, audit)
    assert error.code == "MERKLE_PATH"
    assert error.message.endswith(f"the header commits to {proof['header']['transactions_root']}")


def test_a_header_the_validators_did_not_sign_is_refused(audit: AuditChain, proof: dict[str, Any]) -> None:
    forged = copy.deepcopy(proof)
    forged["header"]["timestamp_ms"] += 1
    assert refused(forged, audit).code == "HEADER_MISMATCH"
    forged["block_hash"] = _header_hash(forged["header"])
    error = refused(forged, audit)
    assert (error.code, error.message) == (
        "BAD_CERTIFICATE",
        "certificate is for another block than the one at height 2",
    )


def test_a_certificate_short_of_a_quorum_is_refused(audit: AuditChain, proof: dict[str, Any]) -> None:
    proof["certificate"]["votes"] = proof["certificate"]["votes"][:2]
    assert (refused(proof, audit).code, refused(proof, audit).message) == (
        "BAD_CERTIFICATE",
        "certificate has 2 votes, a quorum is 3",
    )


def test_another_networks_genesis_does_not_accept_the_proof(
    audit: AuditChain, proof: dict[str, Any], tmp_path: Path
) -> None:
    other = generate_network(HUBS, tmp_path / "other", chain_id="another-chain")
    with pytest.raises(ProofInvalid) as caught:
        verify_proof(proof, other)
    assert caught.value.code == "WRONG_CHAIN"


def test_a_document_that_is_not_a_proof_is_named_so(audit: AuditChain) -> None:
    assert refused({"hello": 1}, audit).code == "NOT_A_PROOF"
    assert refused([], audit).code == "MALFORMED"


def _edits(document: Any, where: str = "") -> Iterator[tuple[str, Any]]:
    """Every copy of ``document`` with one field changed, removed or added, named by where."""
    if isinstance(document, dict):
        for name, value in document.items():
            for inner, edited in _edits(value, f"{where}.{name}"):
                yield inner, {**document, name: edited}
            yield f"{where}.{name} (removed)", {key: item for key, item in document.items() if key != name}
        yield f"{where} (a field added)", {**document, "extra": 0}
    elif isinstance(document, list):
        for index, value in enumerate(document):
            for inner, edited in _edits(value, f"{where}[{index}]"):
                yield inner, [*document[:index], edited, *document[index + 1 :]]
        if document:
            yield f"{where} (last item removed)", document[:-1]
    elif isinstance(document, bool):
        yield where, not document
    elif isinstance(document, int):
        yield where, document + 1
    elif isinstance(document, str):
        yield where, _edit_text(document)


def _edit_text(text: str) -> str:
    """Hex stays hex (one digit changed), so the edit reaches the check behind the parser."""
    if text and all(character in "0123456789abcdef" for character in text):
        return ("1" if text[0] == "0" else "0") + text[1:]
    return text + "x"


def _header_hash(header_json: dict[str, Any]) -> str:
    from hubledger_client.encoding import parse_header

    return parse_header(header_json).hash.hex()
