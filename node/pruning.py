"""Pruning old block bodies after each commit, as ``[storage] keep_blocks`` says.

A few blocks at a time (``BLOCKS_PER_COMMIT``), so a hub that turns pruning on over a
long chain works through it over many commits instead of stalling one for minutes.
Headers and certificates stay (storage/pruning.py); so do undo records of the kept
blocks, from which an export rebuilds the state at the first kept block.
"""

from __future__ import annotations

import structlog

from storage.chain import ChainStore

BLOCKS_PER_COMMIT = 64

log = structlog.get_logger("hubledger.node.pruning")


class BlockPruner:
    def __init__(self, chain: ChainStore, keep_blocks: int) -> None:
        self._chain = chain
        self._keep_blocks = keep_blocks
        self.pruned_total = 0

    def after_commit(self) -> None:
        if self._keep_blocks == 0:
            return
        below = self._chain.latest_height() - self._keep_blocks + 1
        pruned = self._chain.prune_below(below, blocks_max=BLOCKS_PER_COMMIT)
        if pruned:
            self.pruned_total += pruned
            log.debug("blocks_pruned", count=pruned, first_kept=self._chain.first_block_height())
