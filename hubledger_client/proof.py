"""Finality and outcome proofs for one transaction: built by a node, checked offline by anyone with genesis.

The node builds a proof (node/proofs.py); this module checks one. A proof
holds the transaction and its Merkle path to the block header's
transactions root, the transaction's receipt and its Merkle path to the
header's receipts root, the header, and the header's commit certificate.
Checking it needs nothing else: the id is recomputed from the signed
transaction, the receipt's canonical encoding from its fields, both paths
must lead to the roots the header commits to, and 2f + 1 genesis validators
must have signed COMMIT for that header's hash.

Both paths must have the shape of the one position the proof names in a
block of the header's transaction_count leaves (an odd node is promoted, so
the shape differs from position to position): without that check, a proof
could pair a failed transaction with the successful receipt of another
transaction of the same block, and both paths would still lead to their
roots. So every field of a proof is covered: editing any of them makes the
proof fail with a code naming the check.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from hubledger_client.encoding import parse_header
from ledger import cbor
from ledger.block import BlockHeader
from ledger.certificate import CommitCertificate, validate_block_certificate
from ledger.errors import CertificateInvalid, DecodeError, LedgerError
from ledger.genesis import Genesis
from ledger.hashing import compute_merkle_path_sides, compute_root_from_path
from ledger.receipt import Receipt
from ledger.transaction import Transaction
from ledger.types import HASH_BYTES, Hash

PROOF_FORMAT = "hubledger-finality-proof"
PROOF_VERSION = 2
PATH_STEPS_MAX = 64
_FIELDS = (
    "format",
    "version",
    "chain_id",
    "transaction_id",
    "height",
    "index",
    "transaction",
    "transaction_path",
    "receipt",
    "receipt_path",
    "header",
    "block_hash",
    "certificate",
)


class ProofInvalid(LedgerError):
    """Raised when a transaction's proof does not hold; the code says which check failed."""

    code = "PROOF_INVALID"

    def __str__(self) -> str:
        return f"{self.code}: {self.message}"


@dataclass(frozen=True)
class ProofReport:
    """What a proof that holds proves: the transaction is final at (height, index), with this receipt."""

    transaction_id: Hash
    height: int
    index: int
    block_hash: Hash
    signers: tuple[str, ...]
    receipt: Receipt

    @property
    def succeeded(self) -> bool:
        return self.receipt.success


def verify_proof(document: Any, genesis: Genesis) -> ProofReport:
    """Check a proof against ``genesis``; raises ProofInvalid naming the check that failed."""
    if isinstance(document, dict) and (
        document.get("format") != PROOF_FORMAT or document.get("version") != PROOF_VERSION
    ):  # before the fields: a proof of version 1 has others, and is named as what it is
        raise ProofInvalid(
            f"this is not a HubLedger finality proof of version {PROOF_VERSION} "
            f"(format {document.get('format')!r}, version {document.get('version')!r})",
            code="NOT_A_PROOF",
        )
    fields = _expect(lambda: cbor.expect_map(document, _FIELDS, "proof"))
    transaction = _expect(lambda: Transaction.from_json(fields["transaction"]))
    receipt = _expect(lambda: Receipt.from_cbor_map(fields["receipt"]))
    receipt_encoding = _expect(receipt.encode)  # refuses values receipts never hold (floats, null)
    header = _expect(lambda: parse_header(fields["header"]))
    if header.chain_id != genesis.chain_id or fields["chain_id"] != header.chain_id:
        raise ProofInvalid(
            f"the block is of chain {header.chain_id!r} (the proof says {fields['chain_id']!r}), "
            f"genesis is {genesis.chain_id!r}",
            code="WRONG_CHAIN",
        )
    if fields["transaction_id"] != transaction.id.hex():
        raise ProofInvalid(
            f"the transaction hashes to id {transaction.id.hex()}, not {fields['transaction_id']}",
            code="TRANSACTION_ID",
        )
    if not transaction.has_valid_signature():
        raise ProofInvalid("the transaction is not signed by its sender", code="BAD_TRANSACTION_SIGNATURE")
    index = _validate_index(fields["index"], header)
    _validate_inclusion(transaction.id, fields["transaction_path"], index, header, "transaction")
    _validate_inclusion(receipt_encoding, fields["receipt_path"], index, header, "receipt")
    if fields["height"] != header.height or fields["block_hash"] != header.hash.hex():
        raise ProofInvalid("the proof's height or block hash is not the header's", code="HEADER_MISMATCH")
    signers = verify_certificate(header, fields["certificate"], genesis)
    return ProofReport(transaction.id, header.height, index, header.hash, signers, receipt)


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


def _validate_index(value: Any, header: BlockHeader) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < header.transaction_count:
        raise ProofInvalid(
            f"the proof puts the transaction at position {value!r}, "
            f"but block {header.height} holds {header.transaction_count} transactions",
            code="INDEX",
        )
    return value


# What each path proves: the leaf's name, the header field it leads to, the code when it does not.
_PATHS = {
    "transaction": ("transaction_path", "transactions_root", "MERKLE_PATH"),
    "receipt": ("receipt_path", "receipts_root", "RECEIPT_PATH"),
}


def _validate_inclusion(leaf: bytes, value: Any, index: int, header: BlockHeader, what: str) -> None:
    """Raise ProofInvalid unless ``value`` is the Merkle path of ``leaf`` at ``index`` to its root."""
    name, root_field, code = _PATHS[what]
    path = _parse_path(value, name)
    if [on_left for on_left, _ in path] != compute_merkle_path_sides(header.transaction_count, index):
        raise ProofInvalid(
            f"the {name} is not the path of position {index} "
            f"in a block of {header.transaction_count} transactions",
            code=code,
        )
    root, expected = compute_root_from_path(leaf, path), getattr(header, root_field)
    if root != expected:
        raise ProofInvalid(
            f"the {what}'s {name} leads to {root_field} {root.hex()}, the header commits to {expected.hex()}",
            code=code,
        )


def _parse_path(value: Any, name: str) -> list[tuple[bool, bytes]]:
    steps = _expect(lambda: cbor.expect_list(value, name, count_max=PATH_STEPS_MAX))
    path = []
    for step in steps:
        item = _expect(functools.partial(cbor.expect_map, step, ("left", "hash"), f"{name} step"))
        try:
            sibling = bytes.fromhex(item["hash"]) if isinstance(item["hash"], str) else b""
        except ValueError:
            sibling = b""
        if not isinstance(item["left"], bool) or len(sibling) != HASH_BYTES:
            raise ProofInvalid(
                f"a {name} step is {{left: boolean, hash: 64 hex characters}}", code="MALFORMED"
            )
        path.append((item["left"], sibling))
    return path


def _expect(parse: Callable[[], Any]) -> Any:
    try:
        return parse()
    except DecodeError as error:
        raise ProofInvalid(error.message, code="MALFORMED") from None
