"""A finality proof built from the chain store verifies offline with genesis alone, and any forgery fails."""

from __future__ import annotations

import copy
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
    return build_audit_chain(tmp_path_factory.mktemp("proof") / "net", block_count=2, transfers_per_block=5)


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


def test_a_document_that_is_not_a_proof_is_malformed(audit: AuditChain) -> None:
    assert refused({"hello": 1}, audit).code == "MALFORMED"
    assert refused([], audit).code == "MALFORMED"


def _header_hash(header_json: dict[str, Any]) -> str:
    from hubledger_client.encoding import parse_header

    return parse_header(header_json).hash.hex()
