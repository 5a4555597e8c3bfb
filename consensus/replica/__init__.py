"""The PBFT replica: a state machine fed with messages, requests and timer events.

Theory of operation
===================

HubLedger runs PBFT (Castro and Liskov, OSDI 1999) among n validators, of
which at most f = (n - 1) // 3 may be faulty in any way. A *quorum* is 2f + 1
validators (``ledger.certificate.compute_quorum``): any two quorums share at
least one honest validator, and that overlap is what every safety argument
below rests on.

Views and primaries. The replicas move through numbered views. In view v the
validator with index v mod n is the *primary*; the others are *backups*. The
primary orders blocks; backups check it and replace it when it fails.

Sequence numbers are block heights. Each replica has committed (delivered) the
chain up to ``committed_height``. The primary proposes heights up to
``committed_height + window_max`` ahead, so several blocks are in flight at
once (pipelining); block h + 1 is built speculatively on top of block h. A
backup accepts messages up to twice the window ahead of its own committed
height, so that one a few blocks behind the primary still votes; anything
further is dropped (and counted) but noted as a sign that it lags.

Normal case, for one height h in view v:

1. PRE-PREPARE. The primary batches queued client transactions into a block
   (when a full block is ready, or after ``batch_delay_ms``), stamps it with a
   timestamp later than its parent's, and broadcasts PRE-PREPARE(v, h, block).
2. PREPARE. A backup accepts the proposal if it is in view v, comes from the
   primary of v, lies within the window, is the only proposal it has seen for
   (v, h), extends the block it knows at h - 1 (committed, or proposed in v),
   carries a sane timestamp and executes to the state digest its header claims
   (``Application.validate_block``). It then broadcasts PREPARE(v, h, hash).
3. Prepared. With the proposal and 2f matching PREPAREs from others (the
   PRE-PREPARE counts as the primary's PREPARE), a quorum agrees on the block
   for (v, h): no other block can be prepared for (v, h), because two quorums
   would share an honest replica that prepared both.
4. COMMIT. A prepared replica broadcasts COMMIT(v, h, hash), once it has also
   committed-to the parent (sent COMMIT for h - 1 in v, or committed h - 1), so
   that a committed block's ancestors are prepared by a quorum too. A COMMIT is
   signed over ``compute_commit_payload``, so that ...
5. Committed. ... a quorum of matching COMMITs *is* the block's commit
   certificate. The block is final (a replica that holds the block and the
   certificate delivers it even if it missed some PREPAREs); it is delivered
   (``Deliver``) strictly in height order, once per height.

With n = 1 the quorum is one: the primary's proposal is prepared and committed
the moment it is made, and the node runs a single validator on this path.

Checkpoints. Every ``checkpoint_interval`` heights each replica broadcasts
CHECKPOINT(h, hash) after delivering h. A quorum of matching checkpoints makes
h *stable*: it is final and a quorum holds it, so the replica forgets its log
at and below h (the ``Persist`` carries the deletes) and a VIEW-CHANGE starts
from it, with the quorum of CHECKPOINTs as its proof.

View change. A backup suspects the primary when a block it accepted does not
commit within the view timeout, or when a client request it forwarded is
followed by no delivery at all within ``request_timeout_ms`` (a request the
primary had the chance to order but left out, as inadmissible, is offered again
and then given up: see ``requests``). It moves to view v + 1 and broadcasts
VIEW-CHANGE(v + 1) carrying its last committed block's hash with that block's
commit certificate as proof (its stable checkpoint with a quorum of CHECKPOINTs
if it has no certificate) and a prepared certificate (PRE-PREPARE plus 2f
PREPAREs) for every height above it: at most the blocks in flight. While
changing view it ignores ordering messages of the old view. A replica that sees
f + 1 VIEW-CHANGEs for higher views joins the smallest of them (at least one
honest replica wants to move, so it is not led astray by f liars). A VIEW-CHANGE
from the primary of the replica's own view is followed at once into the next
view: that primary has stopped ordering (its own blocks stalled: a loaded primary
suspects itself too), and a faulty one can depose itself and nothing more. The primary
of v + 1, with a quorum of VIEW-CHANGEs, broadcasts NEW-VIEW(v + 1) carrying
them and re-proposing, as PRE-PREPAREs of v + 1, exactly the blocks
``view_change.compute_selection`` picks: for each height above the highest
starting point, the prepared block of the highest view, as long as the blocks link
up. Any quorum of valid VIEW-CHANGEs gives a safe NEW-VIEW; the primary picks the one
of the lowest starting points (``view_change.choose_view_changes``), so the view's
start is one the replicas can fetch: if fewer than f + 1 of the VIEW-CHANGEs it holds
reach that start (it may be a faulty validator's commit certificate that it alone
holds and never serves), it waits a quarter of a view timeout for more VIEW-CHANGEs
(with all n the start is always reached by f + 1, so by an honest replica) before
it sends the NEW-VIEW anyway. Blocks below a higher starting point left out are
re-proposed from the quorum's prepared certificates: they are the same blocks, so
committing them again in the new view contradicts nothing.
A re-proposed block keeps its original header, so its hash (and anything
already voted on it) is unchanged: ``header.view`` is the view that first
proposed the block, the commit certificate's view is the view that committed
it. Backups recompute the selection and accept the NEW-VIEW only if it matches,
then PREPARE the re-proposals as in the normal case. A committed block was
prepared by a quorum, every quorum of VIEW-CHANGEs contains an honest member of
it, so the committed block is re-proposed in every later view: nothing final is
ever lost. Once a quorum wants view v + 1 (never earlier, so a replica that
suspects the primary alone does not climb views alone) the replica waits the
view timeout for the NEW-VIEW, then tries v + 2, each time doubling the timeout
(up to ``view_timeout_max_ms``); progress resets it. Until a quorum wants the
view it re-sends its VIEW-CHANGE every timeout, in case others missed it; a
primary already in that view answers with its NEW-VIEW. A replica that sees
f + 1 peers ordering in a higher view asks to join it the same way. (How a replica
avoids, and lives with, being alone in a higher view: Liveness, below.)

Water marks (section 4.3; ``watermarks``). The low-water mark is the highest
height the replica knows to be final by proof: its stable checkpoint, its
committed height and, in the view it orders in, the view's *start*: the highest
starting point among the NEW-VIEW's VIEW-CHANGEs (``Selection.checkpoint_height``),
which that quorum proved final. In a view nothing is proposed, prepared or
committed at or below the low-water mark but the NEW-VIEW's re-proposals (all
above the start): a block there is final already, and another one would be a
fork. The start is persisted with the view record, so a restarted replica (a
restarted new primary above all) keeps it: its next height is
max(committed, start) + 1. A replica whose chain is below its low-water mark
fetches up to it (at start, on entering the view, on a new stable checkpoint,
and again from the progress timer) and proposes nothing until it is there. The
high-water marks bound what is held: votes and proposals up to twice the window
above the committed height, checkpoints a few intervals above the chain.

State transfer. A replica that learns the others are ahead (f + 1 peers'
COMMITs or CHECKPOINTs beyond its window, or beyond its height at all while it
waits for a NEW-VIEW; a stable checkpoint beyond its window; a quorum of
COMMITs for a block it never saw proposed; a NEW-VIEW starting above its
committed height) asks a peer for certified blocks (``Fetch``). Each fetched
block must carry a valid commit certificate, link to the chain and pass
``Application.validate_block``; a bad answer blames the peer and the replica
asks another; an empty one (the peer is behind too) blames nobody. A fetch
that gets no answer within the view timeout is asked of another peer. A
replica that leaves a view, or waits alone for a view change, also asks its
peers for what follows its chain: a replica that missed the COMMITs of
blocks the others committed cannot tell that from a stalled primary, and the
others, their votes for those heights spent, would never show it the gap. So
does a replica whose link to a peer comes up (``on_peer_connected``): back
from a restart or a partition into an idle network, nothing else would tell
it; and one the node finds stalled behind f + 1 peers' own reports of their
heights (``on_peers_ahead``): a partition that cut the payload but not the
links ends with no link coming up. Those reports are unsigned, but f + 1 of
them include an honest one, and a probe only asks: every block fetched is
still checked against its certificate. Such a probe follows the peer's
chain, one answer after another, while the answers are longer than twice the
window: a shorter one means the replica is near the head, where the votes it
receives carry it on (following further in a live network would fetch every
new block twice, by votes and by request).

Liveness (``liveness``). PBFT is safe whatever the network does; these rules keep
it moving, and none of them signs anything new:

- Lost votes. Half a view timeout into a block still in flight, a replica re-sends
  its own PREPARE and COMMIT (persisted, never re-signed); a peer that delivered
  that block a while ago answers with its own COMMIT, and f + 1 peers voting beyond
  it make the replica fetch. One lost vote costs a moment, not a view change.
- Cut off, not suspicious. A backup whose request timer finds the primary silent
  but that heard no peer at all since it offered the requests is cut off: a view
  change it started could not complete and would leave it alone in a higher view
  after the heal. It shows the requests to every peer and looks again instead;
  unless the only link it lost is the primary's (an idle network is silent too).
- Paused. A judging timer (progress, request, view change, retransmit) that fires
  more than a view timeout late means the process was paused (SIGSTOP, a stalled
  host): it is armed afresh, once, and the peers are probed, rather than judging a
  network the replica has not seen for seconds and leaving a live view alone.
- Alone in a higher view. A replica that signed VIEW-CHANGE(v + 1) must never vote
  in v again (its VIEW-CHANGE, without the later votes, could make a NEW-VIEW of
  v + 1 drop a block committed in v), so it stays in v + 1 until the others get
  there. Meanwhile it follows their commits by state transfer, shows every
  request it holds to every peer (new ones at once, all of them each time its
  view-change timer fires) so the others order them, and says it is alone
  (``get_liveness_concern``, which the node's /readyz reports).
- Primary lost or slow. With the link to the primary down (``on_peer_disconnected``)
  requests offered to it are judged after a quarter of the request timeout, and a
  peer's VIEW-CHANGE for the next view is joined at once (the first time that peer
  pulls this replica up; then it waits the patience of a peer alone, below, since a
  link also blinks while the primary lives and a faulty peer could ask at every
  blink): its doubt and this replica's lost link make two reasons, and the quorum
  no longer waits for every backup's own timer (the node notices a killed primary within a second or so:
  a reset, or a link silent past ``silence_max_ms``). A
  primary that commits less than a third of what a backup offered it over two
  request timeouts, and less than a third of what an earlier view's primary
  committed of them in as long, is replaced (Aardvark's throughput check: an
  overloaded host commits far less than it is offered whoever leads, so the
  history says what a primary can do). A block fetched with this view's
  certificate counts as the primary's progress.
- Fetches. A fetch round in which every peer failed is retried, backing off up to
  four view timeouts, while f + 1 peers' COMMITs or the stable checkpoint show the
  others are ahead; a link that comes up restarts a fetch waiting for its round.

Crash recovery. Everything the replica signs that it must never contradict
(its proposals, PREPAREs, COMMITs, VIEW-CHANGEs and its view) is in a
``Persist`` placed before the message is sent. A restarted replica reads that
log back: it returns to its view and re-sends, never re-signs, its old votes.

Evidence. Two validly signed messages from one validator for one slot with
different digests (two proposals, two PREPAREs or two COMMITs for one view and
height) prove equivocation and are recorded once (``RecordEvidence``).

Bounds. Messages for views far ahead, heights far beyond the window, or stale
views and heights are dropped and counted by reason. Every store a peer can fill
gives each sender its own share and keeps one message per slot, so a faulty
validator's flood costs it its own share and nobody else's (``buffers``): early
messages of views not entered yet (per sender one per (kind, view, height), a
count and a byte budget, the nearest views kept; a PRE-PREPARE is checked for
its view's primary and the configured block limits before it is held),
checkpoint votes (each sender's few highest), VIEW-CHANGEs (each peer's two
highest views), forwarded requests (a share of the pending queue per forwarding
peer), evidence (one record per validator and kind, forgotten below the stable
checkpoint). A NEW-VIEW is re-sent only to a valid VIEW-CHANGE, at most once a
view timeout per peer. ``check_invariants`` (``invariants``) states what must
hold between steps, these bounds included; the tests and the simulator call it
after every step.
"""

from __future__ import annotations

from collections.abc import Sequence

from consensus.actions import Action, Timer, TimerKind
from consensus.messages import (
    Checkpoint,
    Commit,
    NewView,
    Prepare,
    PrePrepare,
    SignedMessage,
    ViewChange,
)
from consensus.replica.catch_up import CatchUpMixin
from consensus.replica.checkpoints import CheckpointMixin
from consensus.replica.liveness import LivenessMixin
from consensus.replica.ordering import OrderingMixin
from consensus.replica.proposing import ProposingMixin
from consensus.replica.recovery import RecoveryMixin
from consensus.replica.reporting import ReportingMixin
from consensus.replica.view_changes import ViewChangeMixin
from consensus.replica.watermarks import WaterMarkMixin
from consensus.view_change import get_primary
from ledger.block import Block
from ledger.certificate import CommitCertificate
from ledger.transaction import Transaction
from ledger.types import Hash, Height, ValidatorIndex, View


class Replica(
    OrderingMixin,
    ProposingMixin,
    CheckpointMixin,
    ViewChangeMixin,
    CatchUpMixin,
    RecoveryMixin,
    WaterMarkMixin,
    LivenessMixin,
    ReportingMixin,
):
    # ------------------------------------------------------------------ inputs

    def start(self, now_ms: int) -> list[Action]:
        """Resume after construction: re-send what the log says is in flight, arm timers."""
        self._now_ms = now_ms
        if self._floor_unknown:
            self._floor_unknown = False
            self._start_view_change(View(self._view + 1))  # its NEW-VIEW proves a floor again
        elif self._changing:
            self._resend_view_change()
        else:
            self._catch_up_to_floor()  # e.g. a primary that restarted before it reached its view's start
            self._resume_own_proposals()
            self._arm_progress_timer()
            self._advance()
            self._try_propose(flush=False)
        return self._take_actions()

    def on_message(self, message: SignedMessage, now_ms: int) -> list[Action]:
        """Handle a peer message that ``decode_message`` already verified."""
        self._now_ms = now_ms
        if message.chain_id != self._config.chain_id or not 0 <= message.sender < self._n:
            self._drop("foreign")
        elif message.sender == self._index:
            self._drop("own_message")
        else:
            self._note_heard(message)
            skew_refusals = self._dropped["timestamp_skew"]
            self._dispatch(message)
            if self._dropped["timestamp_skew"] > skew_refusals:
                self._refused_skew_ms = now_ms
            self._fetch_if_certified_elsewhere(message)
            self._answer_late_commit(message)
        return self._take_actions()

    def on_request(self, transactions: Sequence[Transaction], now_ms: int) -> list[Action]:
        """Client transactions admitted by the node's mempool."""
        self._now_ms = now_ms
        added = self._add_pending(transactions, from_peer=False)
        if self._is_primary():
            self._try_propose(flush=False)
        elif added and self._changing:
            self._offer_while_changing(added)
        elif added:
            self._forward(added)
            self._note_offered(added)
            self._arm_request_timer()
        return self._take_actions()

    def on_timer(self, timer: Timer, now_ms: int) -> list[Action]:
        self._now_ms = now_ms
        if self._is_late(timer):
            self._on_late_timer(timer)
        elif timer.kind is TimerKind.BATCH:
            self._on_batch_timer(timer)
        elif timer.kind is TimerKind.PROGRESS:
            self._on_progress_timer(timer)
        elif timer.kind is TimerKind.REQUEST:
            self._on_request_timer(timer)
        elif timer.kind is TimerKind.VIEW_CHANGE:
            if self._changing and timer.view == self._view:
                self._on_view_change_timer()
                self._reoffer_while_changing()
        elif timer.kind is TimerKind.NEW_VIEW:
            self._try_new_view(timer.view, settled=True)
        elif timer.kind is TimerKind.RETRANSMIT:
            self._on_retransmit_timer(timer)
        elif timer.kind is TimerKind.FETCH and self._fetch is not None:
            self._on_fetch_timer(self._fetch)
        return self._take_actions()

    def on_fetched(
        self, peer: ValidatorIndex, blocks: Sequence[tuple[Block, CommitCertificate]], now_ms: int
    ) -> list[Action]:
        """Certified blocks a peer answered to ``Fetch`` (empty when the fetch failed)."""
        self._now_ms = now_ms
        if blocks:
            self._last_heard_ms = now_ms
        self._take_fetched(peer, blocks)
        return self._take_actions()

    def on_peer_connected(self, peer: ValidatorIndex, now_ms: int) -> list[Action]:
        """A link to ``peer`` came up. After a restart or a partition it may hold blocks this
        replica missed, and in an idle network no message would show the gap: ask it."""
        self._now_ms = now_ms
        if peer != self._index and 0 <= peer < self._n:
            self._unreachable.discard(peer)
            self._retry_fetch_with(peer)
            self._probe_peers(first=[peer])
        return self._take_actions()

    def on_peers_ahead(self, peers: Sequence[ValidatorIndex], now_ms: int) -> list[Action]:
        """f + 1 ``peers`` report heights above this replica's, which has not moved since they
        did: ask them for what follows its chain (a probe; nothing if a fetch is under way)."""
        self._now_ms = now_ms
        valid = [peer for peer in peers if peer != self._index and 0 <= peer < self._n]
        if len(valid) > self._faults_max:
            self._probe_peers(first=valid)
        return self._take_actions()

    def on_peer_disconnected(self, peer: ValidatorIndex, now_ms: int) -> list[Action]:
        """The link to ``peer`` went down. If it is the primary, the requests offered to it
        are judged sooner (``request_timeout_ms`` / 4) and a peer's VIEW-CHANGE for the next
        view is joined at once: a killed primary is replaced in about a second after the
        first request reaches a backup, instead of two request timeouts."""
        self._now_ms = now_ms
        if peer != self._index and 0 <= peer < self._n:
            self._unreachable.add(peer)
            if peer == get_primary(self._view, self._n):
                self._on_primary_lost()
        return self._take_actions()

    def on_delivered(self, height: Height, block_hash: Hash) -> None:
        """Nothing to do: the replica counts a block delivered when it emits ``Deliver``."""

    def _dispatch(self, message: SignedMessage) -> None:
        body = message.body
        if isinstance(body, PrePrepare):
            self._on_pre_prepare(message, body)
        elif isinstance(body, Prepare):
            self._on_prepare(message, body)
        elif isinstance(body, Commit):
            self._on_commit(message, body)
        elif isinstance(body, Checkpoint):
            self._on_checkpoint(message, body)
        elif isinstance(body, ViewChange):
            self._on_view_change(message, body)
        elif isinstance(body, NewView):
            self._on_new_view(message, body)
        else:
            self._on_request_batch(body, message.sender)
