"""Recovery from the consensus log: a restarted replica returns to its view and its votes."""

from __future__ import annotations

from consensus import journal
from consensus.messages import (
    Commit,
    Prepare,
    PrePrepare,
    ViewChange,
)
from consensus.replica.core import (
    ReplicaCore,
)
from ledger.types import Height


class RecoveryMixin(ReplicaCore):
    def _restore(self, restored: journal.Restored) -> None:
        self._view = restored.view
        self._changing = restored.changing
        self._view_start = restored.view_start
        if restored.checkpoint is not None:
            self._stable = restored.checkpoint
        for message in restored.own_messages:
            body = message.body
            if isinstance(body, PrePrepare | Prepare | Commit):
                self._own[(body.kind, body.view, body.height)] = message
            elif isinstance(body, ViewChange):
                self._own[("view_change", body.view, Height(0))] = message
                self._view_changes.setdefault(body.view, {})[self._index] = message
                self._view_change_keys[body.view] = journal.compute_view_change_key(body.view)
                if body.view > self._view:  # a view change whose view record did not land
                    self._view, self._changing = body.view, True
        floor = self._get_view_change_base()[0]  # a VIEW-CHANGE carries nothing at or below it
        for certificate in restored.prepared:
            proposal = certificate.proposal
            current = self._prepared.get(proposal.height)
            if proposal.height > floor and (current is None or current.proposal.view < proposal.view):
                self._prepared[proposal.height] = certificate
        for key in restored.keys:
            height = journal.get_key_height(key)
            if height is not None:
                self._log_keys.setdefault(height, []).append(key)
        if not self._changing and not restored.start_known and self._view == restored.view:
            # Entered under a record without its start: taking the floor as 0 would let this
            # replica order again below a height its NEW-VIEW proved final (a fork). It orders
            # nothing in this view and moves to the next at ``start``, whose NEW-VIEW proves it.
            self._changing = self._floor_unknown = True
        if self._changing:
            self._view_start = Height(0)  # a view not entered yet: its NEW-VIEW will say
        # A primary restarted mid-view proposes above its view's start, never from its chain's
        # end; below the start it fetches first (``start``).
        self._raise_next_height()
