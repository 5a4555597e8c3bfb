"""The normal case: admitting PRE-PREPAREs, PREPAREs and COMMITs, voting, and delivering
committed blocks in height order (theory of operation: ``consensus.replica``)."""

from __future__ import annotations

from consensus import journal
from consensus.actions import (
    CancelTimer,
    Deliver,
    Timer,
    TimerKind,
)
from consensus.application import InvalidBlock
from consensus.evidence import is_conflict
from consensus.messages import (
    Commit,
    Prepare,
    PrePrepare,
    SignedMessage,
)
from consensus.replica.core import (
    VIEWS_AHEAD_MAX,
    ReplicaCore,
)
from consensus.slots import Slot
from consensus.view_change import get_primary
from ledger.block import Block
from ledger.certificate import (
    CommitCertificate,
)
from ledger.types import Hash, Height, TimestampMs, ValidatorIndex, View


class OrderingMixin(ReplicaCore):
    def _admit_ordering(self, message: SignedMessage, view: View, height: Height) -> bool:
        """Window and view checks shared by PRE-PREPARE, PREPARE and COMMIT."""
        if view > self._view + VIEWS_AHEAD_MAX:
            self._drop("view_too_far")
            return False
        if isinstance(message.body, Commit):
            self._note_height(message.sender, height)
        if height > self._committed_height + 2 * self._config.window_max:
            self._drop("beyond_window")
            return False
        if view < self._view:
            self._drop("stale_view")
            return False
        if height <= self._committed_height:
            self._drop("stale_height")
            return False
        if height <= self._get_floor(view):
            self._drop("below_floor")  # final already: only the NEW-VIEW re-proposes at or below it
            return False
        if view > self._view or self._changing:
            self._buffer_future(message, view, height)
            return False
        return True

    def _buffer_future(self, message: SignedMessage, view: View, height: Height) -> None:
        # Early messages of a view this replica has not entered yet; replayed on entry.
        reason = self._future.add(message, view, height)
        if reason is not None:
            self._drop(reason)
            return
        self._follow_higher_view()

    def _follow_higher_view(self) -> None:
        """f + 1 replicas already order in a higher view: at least one honest replica saw
        its NEW-VIEW. Ask for it with a VIEW-CHANGE to that view (its primary answers a
        VIEW-CHANGE for its current view with the NEW-VIEW)."""
        senders = self._future.get_senders_by_view()
        joinable = [
            view for view, group in senders.items() if view > self._view and len(group) > self._faults_max
        ]
        if joinable:
            self._start_view_change(min(joinable))

    def _get_slot(self, height: Height) -> Slot:
        slot = self._slots.get(height)
        if slot is None:
            slot = Slot(self._view, height, get_primary(self._view, self._n))
            for kind, votes in (("prepare", slot.prepares), ("commit", slot.commits)):
                own = self._own.get((kind, self._view, height))
                if own is not None:
                    votes[self._index] = own
            self._slots[height] = slot
        return slot

    def _on_pre_prepare(self, message: SignedMessage, body: PrePrepare) -> None:
        # What can be checked without the view's state is checked before the proposal is
        # held for a later view: who sent it (its signature passed the door) and its size.
        if message.sender != get_primary(body.view, self._n):
            self._drop("not_primary")
            return
        reason = self._check_block_limits(body.block)
        if reason is not None:
            self._drop(reason)
            return
        if not self._admit_ordering(message, body.view, body.height):
            return
        slot = self._slots.get(body.height)
        earlier = slot.pre_prepare if slot is not None else self._waiting_parent.get(body.height)
        if earlier is not None:
            if isinstance(earlier.body, PrePrepare) and earlier.body.block.hash != body.block.hash:
                self._record_conflict(earlier, message)
            else:
                self._drop("duplicate")
            return
        refused = self._refused.get(body.height)
        if refused is not None and is_conflict(refused, message):
            self._record_conflict(refused, message)  # a proposal refused first is still signed
        reason = self._check_proposal(body)
        if reason == "unknown_parent":
            self._waiting_parent[body.height] = message  # its parent's proposal is still on the way
            self._arm_progress_timer()
        elif reason is not None:
            self._drop(reason)
            if len(self._refused) < 2 * self._config.window_max:
                self._refused.setdefault(body.height, message)
        else:
            self._accept_proposal(message)

    def _get_parent(self, height: Height) -> tuple[Hash, TimestampMs] | None:
        if height - 1 == self._committed_height:
            return self._committed_hash, self._committed_timestamp_ms
        slot = self._slots.get(Height(height - 1))
        block = slot.block if slot is not None else None
        return (block.hash, block.header.timestamp_ms) if block is not None else None

    def _check_proposal(self, body: PrePrepare) -> str | None:
        header = body.block.header
        if header.view != body.view or header.proposer != get_primary(body.view, self._n):
            return "bad_proposer"
        if body.height <= self._get_floor(body.view):
            return "below_floor"
        reason = self._check_block_limits(body.block)
        if reason is not None:
            return reason
        parent = self._get_parent(body.height)
        if parent is None:
            return "unknown_parent"
        parent_hash, parent_timestamp_ms = parent
        if header.previous_hash != parent_hash:
            return "bad_parent"
        if header.timestamp_ms <= parent_timestamp_ms:
            return "timestamp_not_increasing"
        if abs(header.timestamp_ms - self._now_ms) > self._config.timestamp_skew_max_ms:
            return "timestamp_skew"
        own = self._own.get(("prepare", body.view, body.height))
        if own is not None and isinstance(own.body, Prepare) and own.body.block_hash != body.block.hash:
            return "conflicts_own_vote"
        try:
            self._application.validate_block(body.block)
        except InvalidBlock:
            return "invalid_block"
        return None

    def _check_block_limits(self, block: Block) -> str | None:
        """The configured limits, not just the protocol's: a larger block, once prepared,
        would make VIEW-CHANGEs and NEW-VIEWs outgrow the peer message limit."""
        if len(block.transactions) > self._config.block_transactions_max:
            return "block_too_many_transactions"
        if len(block.encode()) > self._config.block_bytes_max:
            return "block_too_large"
        return None

    def _accept_proposal(self, message: SignedMessage) -> None:
        body = message.body
        if not isinstance(body, PrePrepare):
            return
        slot = self._get_slot(body.height)
        slot.pre_prepare = message
        if slot.primary != self._index:
            self._vote(slot, "prepare")
        self._arm_progress_timer()
        self._advance()
        successor = self._waiting_parent.pop(Height(body.height + 1), None)
        if successor is not None and isinstance(successor.body, PrePrepare):
            self._on_pre_prepare(successor, successor.body)

    def _vote(self, slot: Slot, kind: str) -> None:
        """Sign PREPARE or COMMIT for the slot's block, or re-send the vote signed before a restart."""
        block_hash = slot.block_hash
        if block_hash is None:
            return
        own = self._own.get((kind, slot.view, slot.height))
        if own is not None and isinstance(own.body, Prepare | Commit) and own.body.block_hash != block_hash:
            self._drop("conflicts_own_vote")
            return
        body: Prepare | Commit = (
            Prepare(slot.view, slot.height, block_hash)
            if kind == "prepare"
            else Commit(slot.view, slot.height, block_hash)
        )
        own, fresh = self._sign_once(body)
        if fresh and isinstance(body, Prepare):
            key = journal.compute_vote_key(journal.PREPARE, slot.height, slot.view)
            self._persist(key, own.encode(), slot.height)
        elif fresh:
            key = journal.compute_vote_key(journal.COMMIT, slot.height, slot.view)
            certificate = slot.get_prepared_certificate(self._quorum)
            self._persist(key, journal.encode_commit(own, certificate), slot.height)
        self._broadcast(own)
        (slot.prepares if kind == "prepare" else slot.commits)[self._index] = own
        if kind == "commit":
            slot.commit_sent = True

    def _on_prepare(self, message: SignedMessage, body: Prepare) -> None:
        if not self._admit_ordering(message, body.view, body.height):
            return
        slot = self._get_slot(body.height)
        if message.sender == slot.primary:
            self._drop("prepare_from_primary")
            return
        self._add_vote(slot.prepares, message, body.block_hash)
        self._advance()

    def _on_commit(self, message: SignedMessage, body: Commit) -> None:
        if not self._admit_ordering(message, body.view, body.height):
            return
        slot = self._get_slot(body.height)
        self._add_vote(slot.commits, message, body.block_hash)
        self._arm_progress_timer()  # a block we may never see the proposal of: fetch it in time
        self._advance()

    def _add_vote(
        self, votes: dict[ValidatorIndex, SignedMessage], message: SignedMessage, digest: Hash
    ) -> None:
        earlier = votes.get(message.sender)
        if earlier is None:
            votes[message.sender] = message
        elif isinstance(earlier.body, Prepare | Commit) and earlier.body.block_hash != digest:
            self._record_conflict(earlier, message)
        else:
            self._drop("duplicate")

    def _advance(self) -> None:
        """Move every slot as far as its votes allow: prepared, COMMIT sent, committed; then deliver."""
        for height in sorted(self._slots):
            slot = self._slots[height]
            block = slot.block
            if block is None:
                continue
            if not slot.prepared and slot.is_prepared(self._quorum):
                slot.prepared = True
                self._prepared[height] = slot.get_prepared_certificate(self._quorum)
            if slot.prepared and not slot.commit_sent and self._is_parent_committed_to(block):
                self._vote(slot, "commit")
            if not slot.committed:
                certificate = slot.get_commit_certificate(self._quorum)
                if certificate is not None:
                    slot.committed = True
                    self._ready[height] = (block, certificate)
        self._deliver_ready()

    def _is_parent_committed_to(self, block: Block) -> bool:
        height = block.height
        if height - 1 == self._committed_height:
            return block.header.previous_hash == self._committed_hash
        parent = self._slots.get(Height(height - 1))
        return (
            parent is not None
            and (parent.commit_sent or parent.committed)
            and parent.block_hash == block.header.previous_hash
        )

    # ------------------------------------------------------------------ delivery

    def _deliver_ready(self) -> None:
        delivered = False
        while (height := Height(self._committed_height + 1)) in self._ready:
            block, certificate = self._ready.pop(height)
            if block.header.previous_hash != self._committed_hash:
                self._drop("fork_refused")  # cannot happen with at most f faulty validators
                break
            self._deliver(block, certificate)
            delivered = True
        if delivered:
            self._after_delivery()

    def _deliver(self, block: Block, certificate: CommitCertificate) -> None:
        self._emit(Deliver(block, certificate))
        height = block.height
        self._committed_height = height
        self._committed_hash = block.hash
        self._committed_timestamp_ms = block.header.timestamp_ms
        self._committed_certificate = certificate
        self._prepared.pop(height, None)  # a VIEW-CHANGE starts above it now: the whole block can go
        self._requests.remove_committed(block.transactions)
        self._note_served(block, certificate)
        self._in_flight_ids.difference_update(transaction.id for transaction in block.transactions)
        self._slots.pop(height, None)
        self._waiting_parent.pop(height, None)
        self._refused.pop(height, None)
        self._failed_views = 0
        if certificate.view == self._view and not self._changing:
            self._last_delivery_ms = self._now_ms  # this view's primary is alive (a fetched block too)
        self._next_height = Height(max(self._next_height, height + 1))
        if height % self._config.checkpoint_interval == 0:
            self._send_checkpoint(height, block.hash)

    def _after_delivery(self) -> None:
        for height in [height for height in self._ready if height <= self._committed_height]:
            del self._ready[height]
        for height in [height for height in self._slots if height <= self._committed_height]:
            del self._slots[height]
        self._progress_armed = False
        self._arm_progress_timer()
        if not self._progress_armed:
            self._emit(CancelTimer(Timer(TimerKind.PROGRESS, self._view)))
        if self._request_armed_ms is not None and not self._requests:
            self._request_armed_ms = None  # every request this backup offered is committed
            self._emit(CancelTimer(Timer(TimerKind.REQUEST, self._view)))
        waiting = self._waiting_parent.pop(Height(self._committed_height + 1), None)
        if waiting is not None and isinstance(waiting.body, PrePrepare) and not self._changing:
            self._on_pre_prepare(waiting, waiting.body)
        self._resume_own_proposals()  # a logged proposal whose parent just arrived goes first
        self._try_propose(flush=False)

    def _arm_request_timer(self) -> bool:
        """A backup holding client requests expects the primary to make progress."""
        if self._request_armed_ms is not None or self._changing or self._is_primary():
            return self._request_armed_ms is not None
        if self._requests:
            self._request_armed_ms = self._now_ms
            self._set_timer(Timer(TimerKind.REQUEST, self._view), self._get_request_timeout_ms())
        return self._request_armed_ms is not None

    def _arm_progress_timer(self) -> None:
        if self._progress_armed or self._changing:
            return
        waiting = any(slot.block is not None or slot.commits for slot in self._slots.values())
        if waiting or self._waiting_parent or self._get_low_water_mark() > self._committed_height:
            self._progress_armed = True
            self._set_timer(Timer(TimerKind.PROGRESS, self._view), self._get_view_timeout_ms())
            self._arm_retransmit_timer()
