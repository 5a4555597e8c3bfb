"""Finality and outcome proofs for one committed transaction, built from this node's chain.

The format is the one hubledger_client.proof checks offline with nothing but
genesis: the signed transaction and its Merkle path to the header's
transactions root, the receipt and its Merkle path to the header's receipts
root, the header and the header's commit certificate. Both paths are those of
the transaction's position in its block, so the receipt proven is the
outcome of that transaction and of no other.
"""

from __future__ import annotations

from typing import Any

from ledger.hashing import compute_merkle_path
from ledger.types import Hash
from storage.chain import ChainStore

# The format hubledger_client.proof.verify_proof accepts; tests/unit/client/test_proof.py
# builds proofs here and checks them there, so the two cannot drift apart.
PROOF_FORMAT = "hubledger-finality-proof"
PROOF_VERSION = 2  # 2: the receipt and its path to the header's receipts_root


def build_proof(chain: ChainStore, transaction_id: Hash) -> dict[str, Any] | None:
    """The finality proof of a committed transaction, or None when it is not committed here."""
    record = chain.get_transaction(transaction_id)
    if record is None:
        return None
    block = chain.get_block(record.height)
    certificate = chain.get_certificate(record.height)
    if block is None or certificate is None:
        raise RuntimeError(f"block {record.height} of a committed transaction is missing")
    transaction_ids = [transaction.id for transaction in block.transactions]
    transaction_path = compute_merkle_path(transaction_ids, record.index)
    receipt_encodings = [receipt.encode() for receipt in chain.get_receipts(block)]
    receipt_path = compute_merkle_path(receipt_encodings, record.index)
    return {
        "format": PROOF_FORMAT,
        "version": PROOF_VERSION,
        "chain_id": block.header.chain_id,
        "transaction_id": transaction_id.hex(),
        "height": record.height,
        "index": record.index,
        "transaction": record.transaction.to_json(),
        "transaction_path": _path_to_json(transaction_path),
        "receipt": record.receipt.to_json(),
        "receipt_path": _path_to_json(receipt_path),
        "header": block.header.to_json(),
        "block_hash": block.hash.hex(),
        "certificate": certificate.to_json(),
    }


def _path_to_json(path: list[tuple[bool, Hash]]) -> list[dict[str, Any]]:
    return [{"left": on_left, "hash": sibling.hex()} for on_left, sibling in path]
