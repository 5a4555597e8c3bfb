"""Liveness: what keeps a replica moving when messages are lost, links drop, the process is
paused or the replica finds itself alone (theory of operation: ``consensus.replica``).

None of it signs anything new that could contradict an earlier signature: it re-sends
votes and proposals already persisted, re-offers client requests, fetches certified blocks,
and chooses when (not whether) to suspect the primary.
"""

from __future__ import annotations

from consensus.actions import Send, Timer, TimerKind
from consensus.messages import Commit, SignedMessage
from consensus.replica.core import ReplicaCore, _FetchState
from consensus.view_change import get_primary
from ledger.block import Block
from ledger.certificate import CommitCertificate
from ledger.transaction import Transaction
from ledger.types import Height, ValidatorIndex, View

# Timers that judge the primary or the view: fired a view timeout late, they judge a network the
# replica has not seen for a while (its process was paused), so they are armed afresh once.
JUDGING_TIMERS = frozenset(
    {TimerKind.PROGRESS, TimerKind.REQUEST, TimerKind.VIEW_CHANGE, TimerKind.RETRANSMIT}
)
TIMERS_DUE_MAX = 256  # due times remembered; timers cancelled and never fired are forgotten past it
PRIMARY_LOST_DIVISOR = 4  # with no link to the primary, its requests are judged this much sooner
FETCH_BACKOFF_VIEW_TIMEOUTS_MAX = 4  # a failing fetch retries at most this many view timeouts apart
# A slow primary: over a window of two request timeouts, it committed less than a third of the
# requests this backup offered it (at least this many), and of what an earlier primary did.
SERVED_FRACTION_MIN_DIVISOR = 3
OFFERED_SAMPLE_MIN = 20
# A peer alone in a higher view is joined once its VIEW-CHANGE has been heard for this many view
# timeouts; the wait doubles each time one peer pulled this replica up (at most 2**PULLS_MAX times).
ALONE_PATIENCE_VIEW_TIMEOUTS = 2
PULLS_MAX = 16


class LivenessMixin(ReplicaCore):
    # ------------------------------------------------------------------ timers fired late

    def _is_late(self, timer: Timer) -> bool:
        """Whether ``timer`` fired more than a view timeout after it was due: the process was
        paused (SIGSTOP, a stalled host). Every judging timer then expires at once, on a
        state the replica has not refreshed; acting on it would leave the view alone. A timer
        is given that second chance once: on a host so loaded that it is late again, it acts."""
        due_ms = self._timers_due_ms.pop(timer, None)
        if timer in self._timers_rearmed:
            self._timers_rearmed.discard(timer)
            return False
        late = (
            timer.kind in JUDGING_TIMERS
            and due_ms is not None
            and self._now_ms - due_ms > self._config.view_timeout_ms
        )
        if late:
            self._timers_rearmed.add(timer)
        return late

    def _on_late_timer(self, timer: Timer) -> None:
        """Arm the timer afresh, ask the peers what was missed, and show them where this
        replica stands: it judges the primary once it has seen the network again."""
        self._resumed_count += 1
        self._set_timer(timer, self._timers_delay_ms.get(timer, self._get_view_timeout_ms()))
        if self._changing:
            own = self._own.get(("view_change", self._view, Height(0)))
            if own is not None:
                self._broadcast(own)
        self._probe_peers()

    def _remember_timer(self, timer: Timer, delay_ms: int) -> None:
        if len(self._timers_due_ms) >= TIMERS_DUE_MAX:
            self._timers_due_ms.clear()
            self._timers_delay_ms.clear()
            self._timers_rearmed.clear()
        self._timers_due_ms[timer] = self._now_ms + delay_ms
        self._timers_delay_ms[timer] = delay_ms

    # ------------------------------------------------------------------ what the replica hears

    def _note_heard(self, message: SignedMessage) -> None:
        """Any verified message shows the sender can reach this replica; a COMMIT also shows
        in which view the sender orders, to tell whether this replica is alone in its view."""
        self._last_heard_ms = self._now_ms
        body = message.body
        if isinstance(body, Commit):
            self._peer_views[message.sender] = (body.view, self._now_ms)
            if body.view < self._view and self._changing:
                self._check_lagging()  # they commit without us: follow them by state transfer

    def _is_isolated_since(self, since_ms: int) -> bool:
        """No peer's message reached this replica since ``since_ms``: it is cut off, and a view
        change it started could not complete (it needs a quorum) but would leave it alone in
        a higher view once the partition heals. Unless the one link it lost is the primary's:
        an idle network is silent too, and with the links to a quorum up but the primary's
        down, it is the primary that is gone (a killed primary is replaced one request timer
        sooner)."""
        if self._n == 1 or self._last_heard_ms >= since_ms:
            return False
        return not self._has_lost_only_the_primary()

    def _has_lost_only_the_primary(self) -> bool:
        """The link to this view's primary is down, those to the others (at least 2f) are up."""
        primary = get_primary(self._view, self._n)
        return primary in self._unreachable and len(self._unreachable) <= self._faults_max

    def _get_lower_view_peers(self) -> tuple[View, int] | None:
        """(their view, how many) when f + 1 peers committed lately in a view below the one
        this replica waits to enter: they make progress without it."""
        recent_ms = self._now_ms - 2 * self._get_view_timeout_ms()
        peer_views = self._peer_views.values()
        views = [view for view, at_ms in peer_views if at_ms >= recent_ms and view < self._view]
        if not self._changing or len(views) <= self._faults_max:
            return None
        return max(views), len(views)

    def get_liveness_concern(self) -> str | None:
        """Why this replica cannot take part in ordering now, in a sentence, or None."""
        lower = self._get_lower_view_peers()
        if lower is not None:
            view, count = lower
            return (
                f"alone in view {self._view}: {count} peers commit in view {view}; following them by "
                "state transfer until they change view"
            )
        if self._changing:
            return f"changing view: waiting for the NEW-VIEW of view {self._view}"
        skewed_ms = self._refused_skew_ms
        if skewed_ms >= 0 and self._now_ms - skewed_ms <= 2 * self._get_view_timeout_ms():
            return (
                "refusing proposals: their timestamps differ from this node's clock by more than "
                f"{self._config.timestamp_skew_max_ms} ms (is the clock wrong?)"
            )
        return None

    # ------------------------------------------------------------------ requests

    def _reoffer_while_changing(self) -> None:
        """A replica waiting for a NEW-VIEW shows the requests it holds to every peer, each
        time its view-change timer fires: if it is alone in its view (it was cut off when it
        suspected the primary), the others order them; otherwise the next primary has them."""
        if self._changing and self._requests:
            self._broadcast_requests(self._requests.get_all()[: self._config.block_transactions_max])

    def _offer_while_changing(self, transactions: list[Transaction]) -> None:
        """New requests reach a replica waiting for a NEW-VIEW: it may be alone in its view
        while the others order in a lower one, so show them to every peer (the next primary
        among them), not only to the next primary."""
        self._requests.mark_offered(transactions, self._now_ms)
        self._broadcast_requests(transactions)

    def _get_request_timeout_ms(self) -> int:
        """The request timeout, shortened while the link to the primary is down."""
        timeout_ms = self._config.request_timeout_ms
        if get_primary(self._view, self._n) in self._unreachable:
            timeout_ms = max(self._config.batch_delay_ms + 1, timeout_ms // PRIMARY_LOST_DIVISOR)
        return timeout_ms

    def _on_primary_lost(self) -> None:
        """The link to the primary went down: judge the requests offered to it sooner."""
        if self._changing or self._is_primary() or not self._requests:
            return
        armed_ms = self._request_armed_ms
        if armed_ms is None:
            self._arm_request_timer()
            return
        remaining_ms = armed_ms + self._get_request_timeout_ms() - self._now_ms
        self._set_timer(Timer(TimerKind.REQUEST, self._view), max(0, remaining_ms))

    def _join_if_primary_unreachable(self, sender: ValidatorIndex, view: View) -> None:
        """A peer asks for the next view while this replica's own link to the primary is down:
        two replicas now doubt the primary, each for its own reason, and waiting out this
        one's request timer (if it holds requests at all) would only keep the view change one
        VIEW-CHANGE short of its quorum. Only the next view, and at once only the first time
        ``sender`` pulls this replica up: a link also goes down while the primary lives (a
        stall past the p2p silence limit, a re-dial), and a faulty peer that asked at every
        such blink would make its VIEW-CHANGE and one honest one f + 1, deposing one live
        primary after another. After that first pull it waits the patience of
        ``_join_if_alone_too_long``, which doubles with every pull."""
        if self._changing or view != self._view + 1 or sender == self._index:
            return
        if get_primary(self._view, self._n) not in self._unreachable or self._pulled_up_by.get(sender, 0):
            return
        self._pulled_up_by[sender] = 1
        self._alone_since.clear()
        self._start_view_change(view)

    # ------------------------------------------------------------------ votes in flight

    def _arm_retransmit_timer(self) -> None:
        self._set_timer(Timer(TimerKind.RETRANSMIT, self._view), max(1, self._get_view_timeout_ms() // 2))

    def _on_retransmit_timer(self, timer: Timer) -> None:
        """Half a view timeout and a block still in flight: one lost PREPARE or COMMIT must
        not cost a view change, so send this replica's own again (already persisted, never
        re-signed); a peer that delivered the block already answers with its COMMIT
        (``_answer_late_commit``)."""
        if timer.view != self._view or self._changing:
            return
        stuck = sorted(height for height, slot in self._slots.items() if not slot.committed)
        if not stuck:
            return
        for height in stuck:
            for kind in ("prepare", "commit"):
                own = self._own.get((kind, self._view, height))
                if own is not None:
                    self._broadcast(own)
        self._retransmit_count += 1
        # f + 1 peers voted to commit at or beyond it: they are moving on, fetch from them.
        # (Not on suspicion alone: on a loaded host blocks often take longer than this, and
        # fetching and re-executing every one of them would load it further.)
        ahead = [peer for peer, seen in sorted(self._heights_seen.items()) if seen >= stuck[0]]
        if len(ahead) > self._faults_max:
            self._probe_peers(first=ahead)

    def _answer_late_commit(self, message: SignedMessage) -> None:
        """A peer sends again a COMMIT this replica already had, for a block it delivered: the
        peer re-sends it (``_on_retransmit_timer``) because COMMITs to it were lost, and waits
        for a quorum. Send it this replica's own COMMIT for that block, once (persisted, never
        re-signed). A COMMIT seen for the first time after the delivery is merely the last of
        the quorum, late on a loaded host: answering those made two replicas that both had the
        block answer each other."""
        body = message.body
        if not isinstance(body, Commit) or body.height > self._committed_height:
            return
        seen = self._delivered_commits.get(body.height)
        if seen is None:
            return
        if message.sender not in seen:
            seen.add(message.sender)  # first copy: late, not re-sent
            return
        seen.discard(message.sender)  # answered once; a further copy is a first copy again
        own = self._own.get(("commit", body.view, body.height))
        if own is not None and isinstance(own.body, Commit) and own.body.block_hash == body.block_hash:
            self._emit(Send(message.sender, own))

    def _fetch_if_certified_elsewhere(self, message: SignedMessage) -> None:
        """A quorum committed a block whose proposal this replica refused or never got: it
        will never vote on it, so fetch it now rather than after the progress timer."""
        body = message.body
        if not isinstance(body, Commit) or body.view != self._view or self._changing:
            return
        if body.height not in self._refused:
            return  # its proposal may still be on the way (a large block is slower to check)
        slot = self._slots.get(body.height)
        if slot is None or slot.block is not None or slot.committed:
            return
        if len(slot.get_commits_for(body.block_hash)) >= self._quorum:
            self._start_fetch(body.height, sorted(slot.commits))

    # ------------------------------------------------------------------ state transfer

    def _has_evidence_ahead(self) -> bool:
        """f + 1 peers' COMMITs or CHECKPOINTs reach beyond this replica's chain (so at least
        one honest replica is there), or its stable checkpoint does."""
        ahead = sum(1 for seen in self._heights_seen.values() if seen > self._committed_height)
        return ahead > self._faults_max or self._stable.height > self._committed_height

    def _get_fetch_retry_ms(self, fetch: _FetchState) -> int:
        timeout_ms = self._config.view_timeout_ms
        ceiling_ms = min(self._config.view_timeout_max_ms, FETCH_BACKOFF_VIEW_TIMEOUTS_MAX * timeout_ms)
        return min(ceiling_ms, timeout_ms << min(fetch.rounds_failed, 16))

    def _retry_fetch_with(self, peer: ValidatorIndex) -> None:
        """A link came up while a fetch waits to go round its peers again: ask that peer now."""
        fetch = self._fetch
        if fetch is None or fetch.peer is not None:
            return
        fetch.tried.discard(peer)
        fetch.candidates = [peer, *(other for other in fetch.candidates if other != peer)]
        self._fetch_next()

    # ------------------------------------------------------------------ a slow primary

    def _note_offered(self, transactions: list[Transaction]) -> None:
        """A backup offered these to the primary (its own clients', or a peer's it watches)."""
        if self._watch_view != self._view:
            self._watch_view, self._watch_since_ms = self._view, self._now_ms
            self._best_served = max(self._best_served, self._view_best_served)
            self._view_best_served = 0
            self._watched.clear()
            self._offered_ms.clear()
            self._served_ms.clear()
        for transaction in transactions:
            if len(self._watched) < self._config.pending_transactions_max:
                self._watched[transaction.id] = self._now_ms
                self._offered_ms.append(self._now_ms)

    def _note_served(self, block: Block, certificate: CommitCertificate) -> None:
        """A committed block: remember whose COMMITs made it final (``_answer_late_commit``),
        count the watched requests it holds, and the most committed in one window of this
        view (what a primary here can do)."""
        self._delivered_commits[block.height] = {vote.validator for vote in certificate.votes}
        oldest = block.height - 4 * self._config.window_max
        for old in [old for old in self._delivered_commits if old < oldest]:
            del self._delivered_commits[old]
        served = False
        for transaction in block.transactions:
            if self._watched.pop(transaction.id, None) is not None:
                self._served_ms.append(self._now_ms)
                served = True
        if served:
            start_ms = self._now_ms - self._get_watch_window_ms()
            while self._served_ms and self._served_ms[0] < start_ms:
                self._served_ms.popleft()
            if self._watch_since_ms <= start_ms:
                self._view_best_served = max(self._view_best_served, len(self._served_ms))

    def _get_watch_window_ms(self) -> int:
        return 2 * self._config.request_timeout_ms

    def _is_primary_slow(self) -> bool:
        """Aardvark's and RBFT's answer to a primary that orders just fast enough never to
        time out: judge its throughput. Over the last two request timeouts of its view, it
        committed less than a third of what this backup offered it, and less than a third
        of what an earlier view's primary committed of this backup's requests in as long
        (Aardvark's expectation from history). An overloaded host commits far less than it
        is offered whoever leads (measured: a quarter, on two shared cores), so the offered
        load alone would depose one correct primary after another; the history says what a
        primary here can do. With no earlier view to compare with, nobody is judged."""
        start_ms = self._now_ms - self._get_watch_window_ms()
        if self._watch_view != self._view or self._watch_since_ms > start_ms:
            return False
        while self._offered_ms and self._offered_ms[0] < start_ms:
            self._offered_ms.popleft()
        while self._served_ms and self._served_ms[0] < start_ms:
            self._served_ms.popleft()
        offered, served = len(self._offered_ms), len(self._served_ms)
        return (
            offered >= OFFERED_SAMPLE_MIN
            and served * SERVED_FRACTION_MIN_DIVISOR < offered
            and served * SERVED_FRACTION_MIN_DIVISOR < self._best_served
        )

    def _join_if_alone_too_long(self, sender: ValidatorIndex, view: View) -> None:
        """A peer that keeps asking for a higher view alone is an honest replica a partition
        left behind (or a faulty one). It may not come back: its VIEW-CHANGE may still go into a
        NEW-VIEW of that view, which must then hold every block it voted for, so PBFT lets it
        vote in no lower view. So the others go to it: once its VIEW-CHANGE has been heard for
        ``ALONE_PATIENCE_VIEW_TIMEOUTS`` view timeouts, this replica asks for that view too.
        Changing view never costs safety; the wait doubles each time the same peer pulled this
        replica up, so a faulty validator forces a handful of view changes, ever more rarely."""
        # Only the next view: an honest replica alone climbs no further (it waits for a quorum
        # to want a view before it tries the one after), and a faulty one asking for a far view
        # would drag the others past the reach of a replica still in this view.
        if self._changing or view != self._view + 1 or sender == self._index:
            return
        since = self._alone_since.get(sender)
        if since is None or since[0] != view:
            self._alone_since[sender] = (view, self._now_ms)
            return
        pulls = self._pulled_up_by.get(sender, 0)
        patience_ms = (ALONE_PATIENCE_VIEW_TIMEOUTS * self._get_view_timeout_ms()) << min(pulls, PULLS_MAX)
        if self._now_ms - since[1] < patience_ms:
            return
        self._pulled_up_by[sender] = pulls + 1
        self._alone_since.clear()
        self._start_view_change(view)

    def _follow_certified_view(self) -> None:
        """A fetched block certified in a higher view proves a quorum ordered there: at least
        f + 1 honest replicas entered it. On a quiet network nothing else would show this
        replica, left in its old view, that the others moved on; it asks for that view, and
        any replica there answers with the NEW-VIEW it accepted. Moving up costs no safety."""
        certificate = self._committed_certificate
        if certificate is not None and certificate.view > self._view:
            self._start_view_change(View(certificate.view))
