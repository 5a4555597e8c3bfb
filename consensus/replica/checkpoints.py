"""Checkpoints: votes on every ``checkpoint_interval``-th block, and the stable checkpoint
that lets the replica forget its log below it."""

from __future__ import annotations

from consensus import journal
from consensus.actions import (
    Persist,
)
from consensus.messages import (
    Checkpoint,
    SignedMessage,
)
from consensus.replica.core import ReplicaCore
from ledger.types import Hash, Height


class CheckpointMixin(ReplicaCore):
    def _send_checkpoint(self, height: Height, block_hash: Hash) -> None:
        message = self._sign(Checkpoint(height, block_hash))
        self._own_checkpoint = message
        self._broadcast(message)
        self._add_checkpoint_vote(message, height, block_hash)

    def _on_checkpoint(self, message: SignedMessage, body: Checkpoint) -> None:
        if body.height % self._config.checkpoint_interval != 0:
            self._drop("bad_checkpoint_height")
            return
        self._note_height(message.sender, body.height)
        self._add_checkpoint_vote(message, body.height, body.block_hash)

    def _add_checkpoint_vote(self, message: SignedMessage, height: Height, block_hash: Hash) -> None:
        if height <= self._stable.height:
            return
        if message.sender != self._index and height > self._get_checkpoint_high_water_mark():
            self._drop("checkpoint_beyond_window")  # noted as a sign that it lags (``_note_height``)
            return
        reason = self._checkpoint_votes.add(message, height)
        if reason is not None:
            self._drop(reason)
            return
        votes = self._checkpoint_votes.get_votes(height, block_hash)
        if len(votes) >= self._quorum:
            self._make_stable(journal.StableCheckpoint(height, block_hash, tuple(votes)))

    def _make_stable(self, checkpoint: journal.StableCheckpoint) -> None:
        self._stable = checkpoint
        height = checkpoint.height
        self._checkpoint_votes.forget_up_to(height)
        self._forget_evidence_up_to(height)
        for old in [old for old in self._prepared if old <= height]:
            del self._prepared[old]
        # Own votes and proposals at or below both the checkpoint and the committed height
        # can never be asked for again.
        forget = min(height, self._committed_height)
        deletes: list[bytes] = []
        for old in [old for old in self._log_keys if old <= forget]:
            deletes.extend(self._log_keys.pop(old))
        for own_key in [own_key for own_key in self._own if 0 < own_key[2] <= forget]:
            del self._own[own_key]
        self._emit(Persist(((journal.CHECKPOINT_KEY, checkpoint.encode()),), tuple(deletes)))
        self._raise_next_height()
        if height > self._committed_height:
            # The checkpoint is the low-water mark now: votes at or below it are no longer
            # admitted, so the blocks up to it come by fetching.
            self._start_fetch(height, [message.sender for message in checkpoint.proof])
