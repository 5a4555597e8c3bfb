"""Pruning old block bodies after each commit, as ``[storage] keep_blocks`` says.

A few blocks at a time (``BLOCKS_PER_COMMIT``), so a hub that turns pruning on over a
long chain works through it over many commits instead of stalling one for minutes.
Headers and certificates stay (storage/pruning.py); so do undo records of the kept
blocks, from which an export rebuilds the state at the first kept block.
"""

from __future__ import annotations

import structlog

from storage.chain import ChainStore
from storage.errors import DatabaseCorrupt, StorageError

BLOCKS_PER_COMMIT = 64

log = structlog.get_logger("hubledger.node.pruning")


class BlockPruner:
    """After each commit: prune old bodies (``keep_blocks``), or else drop the undo records
    older than the state history (``state_history_blocks``, storage/history.py). A pruning hub
    keeps the undo records of all its kept blocks, which an export needs."""

    def __init__(self, chain: ChainStore, keep_blocks: int, state_history_blocks: int = 0) -> None:
        self._chain = chain
        self._keep_blocks = keep_blocks
        self._state_history_blocks = state_history_blocks
        self._seen = chain.latest_height()
        self._failing = False
        self.pruned_total = 0

    def after_commit(self) -> None:
        """Housekeeping after a commit, which is on disk already: a storage error here (a full
        disk, say) is logged once and tried again after the next commit, never raised into
        the commit's own bookkeeping. A damaged database is raised: the node must stop."""
        try:
            self._drop_old()
        except DatabaseCorrupt:
            raise
        except StorageError as error:
            if not self._failing:
                log.error("pruning_failed", problem=error.message, retry="after every commit")
            self._failing = True
        else:
            if self._failing:
                log.info("pruning_resumed")
            self._failing = False

    def _drop_old(self) -> None:
        latest = self._chain.latest_height()
        # A few blocks at a time, plus as many as the commit added: a hub replaying fetched
        # blocks commits hundreds at once, and must not fall behind.
        blocks_max = BLOCKS_PER_COMMIT + max(0, latest - self._seen)
        self._seen = latest
        if self._keep_blocks == 0:
            self._chain.trim_undo_below(latest - self._state_history_blocks + 1, blocks_max=blocks_max)
            return
        pruned = self._chain.prune_below(latest - self._keep_blocks + 1, blocks_max=blocks_max)
        if pruned:
            self.pruned_total += pruned
            log.debug("blocks_pruned", count=pruned, first_kept=self._chain.first_block_height())
