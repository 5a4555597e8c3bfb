"""State proofs of one account's records, built from this node's chain at its latest height.

The format is the one hubledger_client.state_proof checks offline with nothing
but genesis: each of the account's state keys with its value (or null for no
record) as the contracts store it (ledger/account_state.py), the key's bucket
and 16 sibling hashes up to the state root (ledger/state_tree.py), the header
whose ``state_root`` that is, and the header's commit certificate.

The node keeps only the latest state tree, so a proof is of the latest height.
Everything is read in one synchronous call: blocks commit on the event loop, so
no block can commit between the values, the tree and the header.
"""

from __future__ import annotations

from typing import Any

from ledger.account_state import get_account_key, get_balance_key
from ledger.state_tree import StateProof
from ledger.types import Address
from storage.chain import ChainStore

# The format hubledger_client.state_proof.verify_state_proof_document accepts;
# tests/unit/client/test_state_proof.py builds here and checks there.
STATE_PROOF_FORMAT = "hubledger-state-proof"
STATE_PROOF_VERSION = 1


def account_state_keys(address: Address) -> tuple[bytes, bytes]:
    """The keys a proof of an account covers, in the order the document lists them: the
    record (role, hub, sponsor, frozen, limit) and the balance in fen."""
    return get_account_key(address), get_balance_key(address)


def build_account_proof(chain: ChainStore, address: Address) -> dict[str, Any] | None:
    """The proof of ``address``'s records at the latest height; None before the first block,
    when no certified header exists to carry a state root."""
    height = chain.latest_height()
    block = chain.get_block(height)
    certificate = chain.get_certificate(height)
    if block is None or certificate is None:
        return None
    records = []
    for key in account_state_keys(address):
        proven_height, proof = chain.prove_state(key)
        if proven_height != height:  # cannot happen while nothing awaits in here; say so if it does
            raise RuntimeError(f"the state moved from height {height} to {proven_height} during a proof")
        records.append(_record_json(proof))
    return {
        "format": STATE_PROOF_FORMAT,
        "version": STATE_PROOF_VERSION,
        "chain_id": block.header.chain_id,
        "address": address.hex(),
        "height": height,
        "records": records,
        "header": block.header.to_json(),
        "block_hash": block.hash.hex(),
        "certificate": certificate.to_json(),
    }


def _record_json(proof: StateProof) -> dict[str, Any]:
    return {
        "key": proof.key.hex(),
        "value": None if proof.value is None else proof.value.hex(),
        "entries": [[key_hash.hex(), proof.entries[key_hash].hex()] for key_hash in sorted(proof.entries)],
        "siblings": [sibling.hex() for sibling in proof.siblings],
    }
