"""Finality proofs for one transaction: built by a node, checked offline by anyone with genesis.

The node builds a proof (node/proofs.py); this module checks one. A proof
holds the transaction, the Merkle path from its id to the block
header's transactions root, the header, and the header's commit
certificate. Checking it needs nothing else: the id is recomputed from the
signed transaction, the path must lead to the root the header commits to,
and 2f + 1 genesis validators must have signed COMMIT for that header's hash.
The receipt is carried for the reader's convenience; blocks do not commit to
receipts, so the proof does not cover it (re-executing the chain does:
``hubledger verify-chain``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from hubledger_client.encoding import parse_header
from ledger import cbor
from ledger.block import BlockHeader
from ledger.certificate import CommitCertificate, validate_block_certificate
from ledger.errors import CertificateInvalid, DecodeError, LedgerError
from ledger.genesis import Genesis
from ledger.hashing import compute_root_from_path
from ledger.transaction import Transaction
from ledger.types import HASH_BYTES, Hash

PROOF_FORMAT = "hubledger-finality-proof"
PROOF_VERSION = 1
PATH_STEPS_MAX = 64
_FIELDS = (
    "format",
    "version",
    "chain_id",
    "transaction_id",
    "height",
    "index",
    "transaction",
    "merkle_path",
    "header",
    "block_hash",
    "certificate",
    "receipt",
)


class ProofInvalid(LedgerError):
    """Raised when a transaction's finality proof does not hold; the code says which check failed."""

    code = "PROOF_INVALID"

    def __str__(self) -> str:
        return f"{self.code}: {self.message}"


@dataclass(frozen=True)
class ProofReport:
    transaction_id: Hash
    height: int
    index: int
    block_hash: Hash
    signers: tuple[str, ...]


def verify_proof(document: Any, genesis: Genesis) -> ProofReport:
    """Check a proof against ``genesis``; raises ProofInvalid naming the check that failed."""
    fields = _expect(lambda: cbor.expect_map(document, _FIELDS, "proof"))
    if fields["format"] != PROOF_FORMAT or fields["version"] != PROOF_VERSION:
        raise ProofInvalid("this is not a HubLedger finality proof (version 1)", code="NOT_A_PROOF")
    transaction = _expect(lambda: Transaction.from_json(fields["transaction"]))
    header = _expect(lambda: parse_header(fields["header"]))
    if header.chain_id != genesis.chain_id:
        raise ProofInvalid(
            f"the block is of chain {header.chain_id!r}, genesis is {genesis.chain_id!r}", code="WRONG_CHAIN"
        )
    if fields["transaction_id"] != transaction.id.hex():
        raise ProofInvalid(
            f"the transaction hashes to id {transaction.id.hex()}, not {fields['transaction_id']}",
            code="TRANSACTION_ID",
        )
    if not transaction.has_valid_signature():
        raise ProofInvalid("the transaction is not signed by its sender", code="BAD_TRANSACTION_SIGNATURE")
    root = compute_root_from_path(transaction.id, _parse_path(fields["merkle_path"]))
    if root != header.transactions_root:
        raise ProofInvalid(
            f"the Merkle path leads to root {root.hex()}, "
            f"the header commits to {header.transactions_root.hex()}",
            code="MERKLE_PATH",
        )
    if fields["height"] != header.height or fields["block_hash"] != header.hash.hex():
        raise ProofInvalid("the proof's height or block hash is not the header's", code="HEADER_MISMATCH")
    signers = verify_certificate(header, fields["certificate"], genesis)
    index = fields["index"]
    return ProofReport(
        transaction.id, header.height, index if isinstance(index, int) else -1, header.hash, signers
    )


def verify_certificate(header: BlockHeader, certificate_value: Any, genesis: Genesis) -> tuple[str, ...]:
    """The names of the genesis validators whose COMMIT votes in ``certificate_value`` (JSON as a
    node serves it) prove ``header`` final; raises ProofInvalid (WRONG_CHAIN, MALFORMED,
    BAD_CERTIFICATE) otherwise. Every offline proof (this module's, state_proof.py's) checks here."""
    if header.chain_id != genesis.chain_id:
        raise ProofInvalid(
            f"the block is of chain {header.chain_id!r}, genesis is {genesis.chain_id!r}", code="WRONG_CHAIN"
        )
    certificate = _expect(lambda: CommitCertificate.from_json(certificate_value))
    try:
        validate_block_certificate(
            certificate, header, chain_id=genesis.chain_id, validator_keys=genesis.validator_keys
        )
    except CertificateInvalid as error:
        raise ProofInvalid(error.message, code="BAD_CERTIFICATE") from None
    return tuple(genesis.validators[vote.validator].name for vote in certificate.votes)


def _parse_path(value: Any) -> list[tuple[bool, bytes]]:
    steps = _expect(lambda: cbor.expect_list(value, "merkle_path", count_max=PATH_STEPS_MAX))
    path = []
    for step in steps:
        item = _expect(lambda step=step: cbor.expect_map(step, ("left", "hash"), "merkle path step"))
        try:
            sibling = bytes.fromhex(item["hash"]) if isinstance(item["hash"], str) else b""
        except ValueError:
            sibling = b""
        if not isinstance(item["left"], bool) or len(sibling) != HASH_BYTES:
            raise ProofInvalid(
                "a Merkle path step is {left: boolean, hash: 64 hex characters}", code="MALFORMED"
            )
        path.append((item["left"], sibling))
    return path


def _expect(parse: Any) -> Any:
    try:
        return parse()
    except DecodeError as error:
        raise ProofInvalid(error.message, code="MALFORMED") from None
