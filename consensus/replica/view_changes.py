"""View change and new view: leaving a view, collecting VIEW-CHANGEs, the NEW-VIEW and
entering the next view (the pure selection rules are in ``consensus.view_change``)."""

from __future__ import annotations

from collections.abc import Sequence

from consensus import journal
from consensus.actions import (
    CancelTimer,
    Persist,
    Send,
    Timer,
    TimerKind,
)
from consensus.application import InvalidBlock
from consensus.messages import (
    NewView,
    PrePrepare,
    SignedMessage,
    ViewChange,
    commits_of,
)
from consensus.replica.core import (
    VIEW_CHANGES_PER_SENDER_MAX,
    VIEWS_AHEAD_MAX,
    ReplicaCore,
)
from consensus.view_change import (
    Selection,
    choose_view_changes,
    compute_selection,
    get_primary,
    validate_view_change,
)
from ledger.types import Hash, Height, ValidatorIndex, View


class ViewChangeMixin(ReplicaCore):
    def _start_view_change(self, view: View) -> None:
        """Leave the current view for ``view``: stop ordering, persist and broadcast VIEW-CHANGE."""
        self._view_change_count += 1
        self._failed_views += 1
        for kind in (TimerKind.BATCH, TimerKind.PROGRESS, TimerKind.REQUEST, TimerKind.VIEW_CHANGE):
            self._emit(CancelTimer(Timer(kind, self._view)))
        self._view = view
        self._changing = True
        self._view_start = Height(0)  # the NEW-VIEW of ``view`` will prove where it starts
        self._slots.clear()
        self._waiting_parent.clear()
        self._refused.clear()
        self._batch_armed = self._progress_armed = False
        self._request_armed_ms = None
        base_height, base_hash, proof = self._get_view_change_base()
        prepared = tuple(self._prepared[height] for height in sorted(self._prepared) if height > base_height)
        message = self._sign(ViewChange(view, base_height, base_hash, proof, prepared))
        self._own[("view_change", view, Height(0))] = message
        key = journal.compute_view_change_key(view)
        self._view_change_keys[view] = key
        self._emit(
            Persist(
                (
                    (journal.VIEW_KEY, self._encode_view()),
                    (key, message.encode()),
                )
            )
        )
        self._broadcast(message)
        self._view_change_timer_armed = False
        self._set_timer(Timer(TimerKind.VIEW_CHANGE, view), self._get_view_timeout_ms())  # resend timer
        self._view_changes.setdefault(view, {})[self._index] = message
        self._arm_view_change_timer()
        self._check_lagging()
        self._probe_peers()
        self._future.forget_below(view)
        self._try_new_view(view)

    def _get_view_change_base(self) -> tuple[Height, Hash, tuple[SignedMessage, ...]]:
        """Where a VIEW-CHANGE starts, with its proof: the committed block and its certificate,
        so that it carries only the blocks in flight above it (from the stable checkpoint, a
        checkpoint interval of full blocks outgrew the largest peer message). A replica
        restarted without its last certificate starts from its stable checkpoint instead."""
        certificate = self._committed_certificate
        if certificate is not None and certificate.height == self._committed_height > self._stable.height:
            proof = commits_of(certificate, self._config.chain_id)
            return self._committed_height, self._committed_hash, proof
        stable = self._stable
        return stable.height, stable.block_hash, stable.proof

    def _on_view_change(self, message: SignedMessage, body: ViewChange) -> None:
        if body.view > self._view + VIEWS_AHEAD_MAX:
            self._drop("view_too_far")
            return
        # Validated before anything is sent back: an answer costs a whole NEW-VIEW.
        reason = validate_view_change(message, self._n, self._quorum)
        if reason is not None:
            self._drop(reason)
            return
        self._answer_lagging_view_change(message.sender, body)
        if body.view < self._view or (body.view == self._view and not self._changing):
            self._drop("stale_view")
            return
        self._view_changes.setdefault(body.view, {}).setdefault(message.sender, message)
        self._forget_old_view_changes_of(message.sender)
        self._join_if_primary_left(message.sender)
        self._join_if_primary_unreachable(message.sender, body.view)
        self._join_if_f_plus_one()
        self._join_if_alone_too_long(message.sender, body.view)
        self._arm_view_change_timer()
        self._try_new_view(body.view)

    def _answer_lagging_view_change(self, sender: ValidatorIndex, body: ViewChange) -> None:
        """A valid VIEW-CHANGE from a peer that lags: show it where this replica is. The
        NEW-VIEW it waits for is re-sent at most once a view timeout per peer, about as often
        as an honest peer re-sends its VIEW-CHANGE."""
        if body.checkpoint_height < self._stable.height and self._own_checkpoint is not None:
            self._emit(Send(sender, self._own_checkpoint))
        new_view = self._last_new_view
        if (
            body.view == self._view
            and not self._changing
            and new_view is not None
            and isinstance(new_view.body, NewView)
            and new_view.body.view == self._view
        ):
            last_ms = self._new_view_resent_ms.get(sender)
            if last_ms is not None and self._now_ms - last_ms < self._config.view_timeout_ms:
                self._drop("new_view_resend_limited")
                return
            self._new_view_resent_ms[sender] = self._now_ms
            self._emit(Send(sender, new_view))  # it missed the NEW-VIEW it waits for

    def _on_view_change_timer(self) -> None:
        if self._view_change_timer_armed:
            self._start_view_change(View(self._view + 1))  # a quorum wanted this view; it failed
        else:
            self._resend_view_change()  # too few replicas heard it: perhaps they missed it

    def _resend_view_change(self) -> None:
        own = self._own.get(("view_change", self._view, Height(0)))
        if own is not None:
            self._broadcast(own)
            self._probe_peers()  # nobody joins: perhaps they moved on and this replica lags
        self._view_change_timer_armed = False
        self._set_timer(Timer(TimerKind.VIEW_CHANGE, self._view), self._get_view_timeout_ms())
        self._arm_view_change_timer()

    def _forget_old_view_changes_of(self, sender: ValidatorIndex) -> None:
        views = sorted(view for view, senders in self._view_changes.items() if sender in senders)
        for view in views[:-VIEW_CHANGES_PER_SENDER_MAX]:
            del self._view_changes[view][sender]
            if not self._view_changes[view]:
                del self._view_changes[view]

    def _arm_view_change_timer(self) -> None:
        """Wait for a NEW-VIEW only once a quorum wants this view (Castro and Liskov, 4.5.2):
        a replica that suspects the primary alone stays put instead of climbing views alone.
        A VIEW-CHANGE for a higher view counts too: its sender has given up on this one, and
        may never say so again if it left before we heard its VIEW-CHANGE for this view."""
        if not self._changing or self._view_change_timer_armed:
            return
        wanting: set[ValidatorIndex] = set()
        for view, senders in self._view_changes.items():
            if view >= self._view:
                wanting.update(senders)
        if len(wanting) >= self._quorum:
            self._view_change_timer_armed = True
            self._set_timer(Timer(TimerKind.VIEW_CHANGE, self._view), self._get_view_timeout_ms())

    def _join_if_primary_left(self, sender: ValidatorIndex) -> None:
        """The primary of this view asked to leave it (its own blocks stopped committing): it
        orders nothing more, and waiting for a timer to say so stalls the chain. Only the next
        view is joined, so a faulty primary can depose itself and nothing else."""
        if not self._changing and sender == get_primary(self._view, self._n) and sender != self._index:
            self._start_view_change(View(self._view + 1))

    def _join_if_f_plus_one(self) -> None:
        """f + 1 replicas want a higher view: at least one is honest, so move to the smallest."""
        current = self._view
        highest: dict[ValidatorIndex, View] = {}
        for view, senders in self._view_changes.items():
            if view > current or (view == current and not self._changing):
                for sender in senders:
                    highest[sender] = max(highest.get(sender, view), view)
        if self._index in highest or len(highest) < self._faults_max + 1:
            return
        self._start_view_change(min(highest.values()))

    def _try_new_view(self, view: View, *, settled: bool = False) -> None:
        """As the new primary, send the NEW-VIEW once a quorum of VIEW-CHANGEs is in. If the
        start of the quorum chosen (``choose_view_changes``) is reached by fewer than f + 1
        VIEW-CHANGEs, perhaps only a faulty validator holds the blocks up to it: wait a quarter
        of a view timeout (``settled`` when it is over) for the others' VIEW-CHANGEs, well
        before the backups give up on the view."""
        if not (self._changing and view == self._view and get_primary(view, self._n) == self._index):
            return
        senders = self._view_changes.get(view, {})
        if len(senders) < self._quorum:
            return
        held = [senders[sender] for sender in sorted(senders)]
        view_changes, served = choose_view_changes(held, self._quorum, self._faults_max)
        if not (served or settled or len(senders) == self._n):
            if self._new_view_wait != view:
                self._new_view_wait = view
                self._set_timer(Timer(TimerKind.NEW_VIEW, view), max(1, self._get_view_timeout_ms() // 4))
            return
        self._new_view_wait = None
        self._emit(CancelTimer(Timer(TimerKind.NEW_VIEW, view)))
        selection = compute_selection(view_changes)
        if not self._agrees_with_own_proposals(view, selection):
            self._drop("new_view_conflicts_own_proposal")  # never sign a second block: let the view go
            return
        proposals: list[SignedMessage] = []
        start = selection.checkpoint_height
        puts = [(journal.VIEW_KEY, journal.encode_view(view, changing=False, start=start))]
        for offset, block in enumerate(selection.blocks):
            height = Height(selection.checkpoint_height + 1 + offset)
            message, fresh = self._sign_once(PrePrepare(view, height, block))
            if fresh:
                key = journal.compute_vote_key(journal.PRE_PREPARE, height, view)
                puts.append((key, message.encode()))
                self._log_keys.setdefault(height, []).append(key)
            proposals.append(message)
        self._emit(Persist(tuple(puts)))
        self._last_new_view = self._sign(NewView(view, view_changes, tuple(proposals)))
        self._broadcast(self._last_new_view)
        self._enter_view(view, selection, proposals)

    def _agrees_with_own_proposals(self, view: View, selection: Selection) -> bool:
        for offset, block in enumerate(selection.blocks):
            own = self._own.get(("pre_prepare", view, Height(selection.checkpoint_height + 1 + offset)))
            if own is not None and isinstance(own.body, PrePrepare) and own.body.block.hash != block.hash:
                return False
        return True

    def _on_new_view(self, message: SignedMessage, body: NewView) -> None:
        view = body.view
        if view > self._view + VIEWS_AHEAD_MAX:
            self._drop("view_too_far")
            return
        if view < self._view or (view == self._view and not self._changing):
            self._drop("stale_view")
            return
        if message.sender != get_primary(view, self._n):
            self._drop("not_primary")
            return
        selection = self._check_new_view(body)
        if selection is None:
            self._drop("bad_new_view")
            return
        self._persist_view_entry(view, selection.checkpoint_height)
        # Kept to answer a peer that missed it: the primary may restart and lose its copy, and the
        # copy is the primary's own signed message, so it can be relayed as it is.
        self._last_new_view = message
        self._enter_view(view, selection, list(body.pre_prepares))

    def _check_new_view(self, body: NewView) -> Selection | None:
        """The selection the NEW-VIEW had to re-propose, or None if it did not."""
        senders = {message.sender for message in body.view_changes}
        if len(senders) != len(body.view_changes) or len(senders) < self._quorum:
            return None
        for message in body.view_changes:
            if not isinstance(message.body, ViewChange) or message.body.view != body.view:
                return None
            if validate_view_change(message, self._n, self._quorum) is not None:
                return None
        selection = compute_selection(body.view_changes)
        if len(body.pre_prepares) != len(selection.blocks):
            return None
        # No configured block limit here: a quorum prepared these blocks, and PBFT must carry
        # them on. They passed the protocol limits (``ledger.limits``) at decode; a limit
        # lowered since they were prepared would refuse every NEW-VIEW for good.
        primary = get_primary(body.view, self._n)
        for offset, (message, block) in enumerate(zip(body.pre_prepares, selection.blocks, strict=True)):
            proposal = message.body
            if (
                message.sender != primary
                or not isinstance(proposal, PrePrepare)
                or proposal.view != body.view
                or proposal.height != selection.checkpoint_height + 1 + offset
                or proposal.block.hash != block.hash
            ):
                return None
        return selection

    def _persist_view_entry(self, view: View, start: Height) -> None:
        self._view = view
        self._changing = False
        self._view_start = start
        self._persist_view()

    def _enter_view(self, view: View, selection: Selection, proposals: Sequence[SignedMessage]) -> None:
        """Start ordering in ``view`` with the NEW-VIEW's re-proposals as its first PRE-PREPAREs."""
        self._emit(CancelTimer(Timer(TimerKind.VIEW_CHANGE, view)))
        self._view = view
        self._changing = False
        # A replica that jumps in from ordering an older view (a NEW-VIEW reached it first) holds
        # that view's timers: they will fire for a view that is gone, so arm this view's afresh.
        self._batch_armed = self._progress_armed = False
        self._request_armed_ms = None
        self._slots.clear()
        self._waiting_parent.clear()
        self._refused.clear()
        self._in_flight_ids.clear()
        self._view_start = selection.checkpoint_height  # the floor of this view (``watermarks``)
        self._next_height = Height(max(self._committed_height, selection.checkpoint_height) + 1)
        self._raise_next_height()
        if selection.checkpoint_height > self._committed_height:
            self._start_fetch(selection.checkpoint_height, list(selection.checkpoint_signers))
        for message in proposals:
            self._accept_reproposal(message)
        self._forget_view_changes_before(view)
        self._future.forget_below(view)
        early = self._future.take_view(view)
        if not self._is_primary() and self._requests:
            self._forward(self._requests.get_all())
        self._arm_request_timer()
        self._arm_progress_timer()
        self._advance()
        for message in early:
            self._dispatch(message)
        self._try_propose(flush=False)

    def _accept_reproposal(self, message: SignedMessage) -> None:
        body = message.body
        if not isinstance(body, PrePrepare):
            return
        self._next_height = Height(max(self._next_height, body.height + 1))
        if self._is_below_floor(body.height):
            return  # committed, or below a stable checkpoint this replica fetches instead
        parent = self._get_parent(body.height)
        if parent is not None and parent[0] == body.block.header.previous_hash:
            try:
                self._application.validate_block(body.block)  # speculative state to build on
            except InvalidBlock:
                self._drop("reproposal_invalid_here")  # a quorum prepared it: vote regardless
        slot = self._get_slot(body.height)
        slot.pre_prepare = message
        self._in_flight_ids.update(transaction.id for transaction in body.block.transactions)
        if slot.primary != self._index:
            self._vote(slot, "prepare")

    def _forget_view_changes_before(self, view: View) -> None:
        for old in [old for old in self._view_changes if old <= view]:
            del self._view_changes[old]
        deletes = tuple(self._view_change_keys.pop(old) for old in list(self._view_change_keys) if old < view)
        for own_key in list(self._own):
            if own_key[0] == "view_change" and own_key[1] < view:
                del self._own[own_key]
        if deletes:
            self._emit(Persist((), deletes))
