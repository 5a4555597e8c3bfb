"""Client requests and proposals: the pending queue, forwarding to the primary, batching
into blocks, and the request and progress timers that watch the primary."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

from consensus import journal
from consensus.actions import (
    Broadcast,
    Send,
    Timer,
    TimerKind,
)
from consensus.application import InvalidBlock
from consensus.messages import (
    Commit,
    PrePrepare,
    RequestBatch,
    SignedMessage,
)
from consensus.replica.core import (
    ReplicaCore,
)
from consensus.view_change import get_primary
from ledger.transaction import Transaction
from ledger.types import Height, TimestampMs, ValidatorIndex, View


class ProposingMixin(ReplicaCore):
    def _add_pending(
        self, transactions: Sequence[Transaction], *, from_peer: bool, peer: ValidatorIndex | None = None
    ) -> list[Transaction]:
        if from_peer:
            # A peer's copy can arrive after the block that holds it (queued for this replica
            # while it was away). Queued again, the primary would leave it out of block after
            # block, each one empty, and a backup would offer it until it gave it up.
            transactions = [tx for tx in transactions if not self._application.is_committed(tx.id)]
        added, refused = self._requests.add(transactions, from_peer=from_peer, peer=peer)
        if refused:
            self._dropped["pending_full"] += refused
        return added

    def _forward(self, transactions: Sequence[Transaction], *, reset: bool = True) -> None:
        """Offer requests to the primary; ``reset`` starts their count afresh (a new primary)."""
        primary = get_primary(self._view, self._n)
        if reset:
            self._requests.mark_offered(transactions, self._now_ms)
        size = self._config.block_transactions_max
        for start in range(0, len(transactions), size):
            batch = RequestBatch(tuple(transactions[start : start + size]))
            self._emit(Send(primary, self._sign(batch)))

    def _broadcast_requests(self, transactions: Sequence[Transaction]) -> None:
        size = self._config.block_transactions_max
        for start in range(0, len(transactions), size):
            self._emit(Broadcast(self._sign(RequestBatch(tuple(transactions[start : start + size])))))

    def _on_request_batch(self, body: RequestBatch, sender: ValidatorIndex) -> None:
        # Every replica keeps forwarded requests: if this primary fails, the next one has them.
        added = self._add_pending(body.transactions, from_peer=True, peer=sender)
        if added and not self._is_primary():
            # Another backup suspects the primary: watch it for these requests as well.
            self._requests.mark_offered(added, self._now_ms)
            self._note_offered(added)
            self._arm_request_timer()
        if self._requests.has_refused(body.transactions):
            self._owe_block = True
        if self._is_primary():
            self._try_propose(flush=False)

    def _can_propose(self) -> bool:
        return (
            self._is_primary()
            and not self._changing
            and self._is_caught_up()  # below its floor it has nothing to build on: it fetches
            and self._get_low_water_mark() < self._next_height
            and self._next_height <= self._committed_height + self._config.window_max
        )

    def _try_propose(self, *, flush: bool) -> None:
        while self._can_propose():
            batch, full = self._requests.take_batch(self._in_flight_ids)
            if not batch and not self._owe_block:
                return
            if not (full or flush or self._config.batch_delay_ms == 0):
                if not self._batch_armed:
                    self._batch_armed = True
                    self._set_timer(Timer(TimerKind.BATCH, self._view), self._config.batch_delay_ms)
                return
            flush = False
            owed, self._owe_block = self._owe_block, False
            if not self._propose(batch, owed=owed):
                return

    def _on_batch_timer(self, timer: Timer) -> None:
        if timer.view == self._view:
            self._batch_armed = False
            self._try_propose(flush=True)

    def _propose(self, batch: list[Transaction], *, owed: bool = False) -> bool:
        height = self._next_height
        parent = self._get_parent(height)
        if parent is None:
            self._drop("proposal_parent_unknown")
            return False
        logged = self._own.get(("pre_prepare", self._view, height))
        if logged is not None:
            # Signed already in this view (a NEW-VIEW's re-proposal, or before a restart):
            # offered again, never replaced by a second block (``_sign_once``).
            return self._resume_proposal(logged)
        parent_hash, parent_timestamp_ms = parent
        try:
            block = self._application.build_block(
                previous_hash=parent_hash,
                height=height,
                view=self._view,
                proposer=self._index,
                timestamp_ms=TimestampMs(max(self._now_ms, parent_timestamp_ms + 1)),
                transactions=batch,
            )
        except InvalidBlock:
            self._drop("build_failed")  # e.g. the parent's state is still being fetched
            return False
        included = {transaction.id for transaction in block.transactions}
        left_out = (tx.id for tx in batch if tx.id not in included)
        first_time = self._requests.note_left_out(left_out, self._now_ms)
        if not block.transactions and not first_time and not owed:
            return True
        # An empty block is proposed when a request is first left out, or offered again
        # after it was: the backups that offered it see the primary is alive, and none
        # starts a view change over a request the application refuses.
        message, _ = self._sign_once(PrePrepare(self._view, height, block))
        key = journal.compute_vote_key(journal.PRE_PREPARE, height, self._view)
        self._persist(key, message.encode(), height)
        self._broadcast(message)
        self._in_flight_ids.update(included)
        self._next_height = Height(height + 1)
        self._accept_proposal(message)
        return True

    def _resume_own_proposals(self) -> None:
        """A primary re-sends its logged proposals of this view instead of making new ones: at
        start, and whenever the parent of the next one becomes known (a delivery, a fetch)."""
        if self._changing or not self._is_primary():
            return
        proposals = sorted(
            (height, message)
            for (kind, view, height), message in self._own.items()
            if kind == "pre_prepare" and view == self._view and height > self._committed_height
        )
        for height, message in proposals:
            if self._is_below_floor(height):
                continue  # final already (committed or stable): never offered again
            slot = self._slots.get(height)
            if slot is not None and slot.pre_prepare is not None:
                continue  # offered already since the view began or the replica restarted
            if not self._resume_proposal(message):
                break

    def _resume_proposal(self, message: SignedMessage) -> bool:
        """Offer again a proposal this primary signed in this view, once its parent is known."""
        body = message.body
        if not isinstance(body, PrePrepare):
            return False
        parent = self._get_parent(body.height)
        if parent is None:
            return False  # resumed once a delivery or a fetch brings the parent
        if parent[0] != body.block.header.previous_hash:
            self._drop("own_proposal_parent_differs")  # cannot happen: never sign another block here
            return False
        try:
            self._application.validate_block(body.block)  # rebuilds the speculative state
        except InvalidBlock:
            self._drop("restored_block_invalid")
        self._broadcast(message)
        self._in_flight_ids.update(transaction.id for transaction in body.block.transactions)
        self._next_height = Height(max(self._next_height, body.height + 1))
        self._accept_proposal(message)
        return True

    def _on_request_timer(self, timer: Timer) -> None:
        """Requests this backup offered the primary are still not committed: if the primary
        delivered nothing since, change view; otherwise offer them again or give them up
        (``RequestQueue.review_offers``). A live primary can thus leave a request out
        unnoticed (it is then given up), but it cannot stall the chain."""
        if timer.view != self._view or self._changing or self._request_armed_ms is None:
            return
        armed_ms, self._request_armed_ms = self._request_armed_ms, None
        review = self._requests.review_offers(
            now_ms=self._now_ms,
            timeout_ms=self._get_request_timeout_ms(),
            last_delivery_ms=self._last_delivery_ms,
        )
        if review.given_up:
            self._dropped["request_given_up"] += review.given_up
        if not review.suspect and self._is_primary_slow():
            # It orders, but far below what it is offered: as slow as it dares, never timing out.
            self._slow_primary_count += 1
            self._broadcast_requests(self._requests.get_all()[: self._config.block_transactions_max])
            self._start_view_change(View(self._view + 1))
            return
        if review.suspect and self._is_isolated_since(armed_ms):
            # Nobody reached this replica since it offered them: it is cut off, not (or not
            # only) the primary. A view change could not complete and would leave it alone in
            # a higher view after the heal; show the requests to everyone and look again.
            self._broadcast_requests(self._requests.get_all()[: self._config.block_transactions_max])
            self._probe_peers()
            self._arm_request_timer()
            return
        if review.suspect:
            # As PBFT's clients do on a timeout, show the requests to every replica, so that
            # the other backups time out on the silent primary too and a quorum changes view.
            self._broadcast_requests(self._requests.get_all())
            self._start_view_change(View(self._view + 1))
            return
        self._forward(review.again, reset=False)
        self._arm_request_timer()

    def _on_progress_timer(self, timer: Timer) -> None:
        if timer.view != self._view or self._changing or not self._progress_armed:
            return
        self._progress_armed = False
        lagging = self._find_progress_elsewhere()
        if lagging is not None:
            self._start_fetch(*lagging)  # the others are moving on: catch up, do not blame the primary
            self._arm_progress_timer()
        elif any(slot.block is not None for slot in self._slots.values()):
            self._start_view_change(View(self._view + 1))

    def _find_progress_elsewhere(self) -> tuple[Height, list[ValidatorIndex]] | None:
        below_floor = self._get_catch_up_target()
        if below_floor is not None:
            return below_floor
        for height in sorted(self._slots, reverse=True):
            digests = Counter(
                message.body.block_hash
                for message in self._slots[height].commits.values()
                if isinstance(message.body, Commit)
            )
            if digests and max(digests.values()) >= self._quorum:
                return height, sorted(self._slots[height].commits)
        return None
