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
import math
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

import structlog

from ledger.account_state import get_account_key, get_balance_key
from ledger.state_tree import StateProof
from ledger.types import Address, Hash
from node.standing import NotServing
from storage.chain import ChainStore
from storage.errors import DatabaseCorrupt, StorageError
from storage.history import prove_state_at
from storage.kv import LevelDBReadView, LevelDBStore, MemoryStore

# The format hubledger_client.state_proof.verify_state_proof_document accepts;
# tests/unit/client/test_state_proof.py builds here and checks there.
STATE_PROOF_FORMAT = "hubledger-state-proof"
STATE_PROOF_VERSION = 1

log = structlog.get_logger("hubledger.node.state_proofs")


def account_state_keys(address: Address) -> tuple[bytes, bytes]:
    """The keys a proof of an account covers, in the order the document lists them: the
    record (role, hub, sponsor, frozen, limit) and the balance in fen."""
    return get_account_key(address), get_balance_key(address)


class AccountProver:
    """Builds the proof documents of one node's chain."""

    def __init__(
        self,
        chain: ChainStore,
        kv: LevelDBStore | MemoryStore,
        *,
        history_blocks: int,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._chain = chain
        self._kv = kv
        self._history_blocks = history_blocks
        self._clock = clock
        self._rebuild: asyncio.Future[tuple[Hash, list[StateProof]]] | None = None  # the latest, in a thread
        self._stopping = threading.Event()  # set by close(): a running rebuild gives up
        # A rebuild holds the interpreter about half the time it runs: after one that took t
        # seconds (timed by its thread, whatever became of its request), none starts for
        # another t, so old heights never take more than about a quarter of the loop's turns.
        self._started = 0.0
        self._rest_until = 0.0

    def first_provable_height(self) -> int:
        """The lowest height a proof may be asked at: as far back as the undo records go and no
        further than the state history, which bounds what one question costs; at least 1."""
        latest = self._chain.latest_height()
        return max(1, self._chain.first_provable_height(), latest - self._history_blocks)

    async def prove(self, address: Address, height: int | None = None) -> dict[str, Any] | None:
        """The proof of ``address``'s records after block ``height`` (default: the latest); None
        before the first block, when no certified header carries a state root. Raises
        StorageError STATE_NOT_RETAINED for a height this hub does not prove, NotServing BUSY
        while it rebuilds another, DatabaseCorrupt when the rebuilt state is not the certified one."""
        chain, keys = self._chain, account_state_keys(address)
        latest = chain.latest_height()
        if height is None or height == latest:
            height, root = latest, chain.state_tree.root
            proofs = [chain.prove_state(key)[1] for key in keys]  # no await: one height throughout
        else:
            root, proofs = await self._rebuild_at(height, keys)
        header, certificate = chain.get_header(height), chain.get_certificate(height)
        if header is None or certificate is None:
            if height == latest:
                return None
            missing = f"no certified header of block {height} is kept here"
            raise StorageError(missing, code="STATE_NOT_RETAINED")
        if root != header.state_root:  # the rebuilt state must be the certified one, or nothing is said
            log.error("state_rebuild_mismatch", height=height, latest=latest)
            raise DatabaseCorrupt(
                f"the state rebuilt at height {height} does not have the state root of its certified header"
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

    async def _rebuild_at(self, height: int, keys: Sequence[bytes]) -> tuple[Hash, list[StateProof]]:
        if height < self.first_provable_height():
            past = f"height {height} is past this hub's state history"
            raise StorageError(past, code="STATE_NOT_RETAINED")
        now = self._clock()
        running = self._rebuild is not None and not self._rebuild.done()
        if running or now < self._rest_until:
            wait = 2 * (now - self._started) if running else self._rest_until - now
            raise NotServing(
                "BUSY",
                "this hub is rebuilding, or has just rebuilt, the state of another earlier height: "
                "retry after the Retry-After seconds, or ask another hub",
                retry_after_s=max(1, math.ceil(wait)),
            )
        view = self._kv.read_view()  # the store as the question arrived, read in the thread
        self._started = now
        try:
            loop = asyncio.get_running_loop()
            rebuild = loop.run_in_executor(None, _prove_in_view, view, height, keys, self._stopping.is_set)
        except BaseException:
            view.close()
            raise
        rebuild.add_done_callback(self._rest_after)
        self._rebuild = rebuild
        return await asyncio.shield(rebuild)  # a thread cannot be cancelled: close() stops and waits

    def _rest_after(self, _: asyncio.Future[Any]) -> None:
        finished = self._clock()
        self._rest_until = finished + (finished - self._started)

    async def close(self) -> None:
        """Stop a rebuild still running in its thread (its request may have been cancelled) and
        wait for it: the store must not be closed under a thread reading it."""
        self._stopping.set()
        if self._rebuild is not None:
            with contextlib.suppress(Exception):
                await self._rebuild


def _prove_in_view(
    view: LevelDBReadView | MemoryStore, height: int, keys: Sequence[bytes], stopping: Callable[[], bool]
) -> tuple[Hash, list[StateProof]]:
    try:
        return prove_state_at(view, height, keys, stopping=stopping)
    finally:
        view.close()


def _record_json(proof: StateProof) -> dict[str, Any]:
    return {
        "key": proof.key.hex(),
        "value": None if proof.value is None else proof.value.hex(),
        "entries": [[key_hash.hex(), proof.entries[key_hash].hex()] for key_hash in sorted(proof.entries)],
        "siblings": [sibling.hex() for sibling in proof.siblings],
    }
