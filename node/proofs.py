"""Finality proofs for one committed transaction, built from this node's chain.

The format is the one hubledger_client.proof checks offline with nothing but
genesis: the signed transaction, its Merkle path to the header's transactions
root, the header and the header's commit certificate. The receipt rides along
for the reader; blocks do not commit to receipts, so the proof does not cover it.
"""

from __future__ import annotations

from typing import Any

from ledger.hashing import compute_merkle_path
from ledger.types import Hash
from storage.chain import ChainStore

# The format hubledger_client.proof.verify_proof accepts; tests/unit/node/test_proof.py
# builds proofs here and checks them there, so the two cannot drift apart.
PROOF_FORMAT = "hubledger-finality-proof"
PROOF_VERSION = 1


def build_proof(chain: ChainStore, transaction_id: Hash) -> dict[str, Any] | None:
    """The finality proof of a committed transaction, or None when it is not committed here."""
    record = chain.get_transaction(transaction_id)
    if record is None:
        return None
    block = chain.get_block(record.height)
    certificate = chain.get_certificate(record.height)
    if block is None or certificate is None:
        raise RuntimeError(f"block {record.height} of a committed transaction is missing")
    path = compute_merkle_path([transaction.id for transaction in block.transactions], record.index)
    return {
        "format": PROOF_FORMAT,
        "version": PROOF_VERSION,
        "chain_id": block.header.chain_id,
        "transaction_id": transaction_id.hex(),
        "height": record.height,
        "index": record.index,
        "transaction": record.transaction.to_json(),
        "merkle_path": [{"left": on_left, "hash": sibling.hex()} for on_left, sibling in path],
        "header": block.header.to_json(),
        "block_hash": block.hash.hex(),
        "certificate": certificate.to_json(),
        "receipt": record.receipt.to_json(),
    }


