"""State proofs of one account's records, built from this node's chain at its latest height.

The format is the one hubledger_client.state_proof checks offline with nothing
but genesis: each of the account's state keys with its value (or null for no
record) as the contracts store it (ledger/account_state.py), the key's bucket
and 16 sibling hashes up to the state root (ledger/state_tree.py), the header
whose ``state_root`` that is, and the header's commit certificate.

A proof of the latest height reads the node's own tree and values in one synchronous
call: blocks commit on the event loop, so none can commit in between. A proof of an
earlier height (as far back as the undo records go: ``[storage] state_history_blocks``,
or the kept blocks of a pruning hub) is rebuilt from one snapshot of the store in a
thread, one at a time, so a costly question never stalls consensus; the root it leads to
must be the state root of that height's certified header, or nothing is answered.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Sequence
from typing import Any

from ledger.account_state import get_account_key, get_balance_key
from ledger.state_tree import StateProof
from ledger.types import Address, Hash
from storage import schema
from storage.chain import ChainStore
from storage.errors import CorruptRecord
from storage.history import prove_state_at
from storage.kv import LevelDBStore, MemoryStore

# The format hubledger_client.state_proof.verify_state_proof_document accepts;
# tests/unit/client/test_state_proof.py builds here and checks there.
STATE_PROOF_FORMAT = "hubledger-state-proof"
STATE_PROOF_VERSION = 1


def account_state_keys(address: Address) -> tuple[bytes, bytes]:
    """The keys a proof of an account covers, in the order the document lists them: the
    record (role, hub, sponsor, frozen, limit) and the balance in fen."""
    return get_account_key(address), get_balance_key(address)


class AccountProver:
    """Builds the proof documents of one node's chain."""

    def __init__(self, chain: ChainStore, kv: LevelDBStore | MemoryStore) -> None:
        self._chain = chain
        self._kv = kv
        self._rebuilding = asyncio.Lock()  # one earlier state at a time: each copies the tree (~10 MB)
        self._rebuild: asyncio.Future[tuple[Hash, list[StateProof]]] | None = None  # the latest, in a thread

    async def prove(self, address: Address, height: int | None = None) -> dict[str, Any] | None:
        """The proof of ``address``'s records after block ``height`` (default: the latest); None
        for a height without a certified header (genesis, or before the first block). Raises
        StorageError STATE_NOT_RETAINED for a height whose state this store cannot rebuild."""
        chain, keys = self._chain, account_state_keys(address)
        if height is None or height == chain.latest_height():
            height, root = chain.latest_height(), chain.state_tree.root
            proofs = [chain.prove_state(key)[1] for key in keys]  # no await: one height throughout
        else:
            async with self._rebuilding:
                loop = asyncio.get_running_loop()
                self._rebuild = loop.run_in_executor(None, _prove_in_snapshot, self._kv, height, keys)
                root, proofs = await asyncio.shield(self._rebuild)  # a thread cannot be cancelled
        header, certificate = chain.get_header(height), chain.get_certificate(height)
        if header is None or certificate is None:
            return None
        if root != header.state_root:  # the rebuilt state must be the certified one, or nothing is said
            raise CorruptRecord(
                schema.undo_key(height + 1),
                f"the state rebuilt at height {height} does not have the state root of its certified header",
            )
        return {
            "format": STATE_PROOF_FORMAT,
            "version": STATE_PROOF_VERSION,
            "chain_id": header.chain_id,
            "address": address.hex(),
            "height": height,
            "records": [_record_json(proof) for proof in proofs],
            "header": header.to_json(),
            "block_hash": header.hash.hex(),
            "certificate": certificate.to_json(),
        }


    async def close(self) -> None:
        """Wait for a rebuild still running in its thread (its request may have been cancelled):
        the store must not be closed under a thread reading it."""
        if self._rebuild is not None:
            with contextlib.suppress(Exception):
                await self._rebuild


def _prove_in_snapshot(
    kv: LevelDBStore | MemoryStore, height: int, keys: Sequence[bytes]
) -> tuple[Hash, list[StateProof]]:
    view = kv.read_view()
    try:
        return prove_state_at(view, height, keys)
    finally:
        view.close()


def _record_json(proof: StateProof) -> dict[str, Any]:
    return {
        "key": proof.key.hex(),
        "value": None if proof.value is None else proof.value.hex(),
        "entries": [[key_hash.hex(), proof.entries[key_hash].hex()] for key_hash in sorted(proof.entries)],
        "siblings": [sibling.hex() for sibling in proof.siblings],
    }
