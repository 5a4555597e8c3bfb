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
up. A re-proposed block keeps its original header, so its hash (and anything
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
f + 1 peers ordering in a higher view asks to join it the same way.

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
it. Such a probe follows the peer's chain, one answer after another, while the
answers are longer than twice the window: a shorter one means the replica is
near the head, where the votes it receives carry it on (following further in
a live network would fetch every new block twice, by votes and by request).

Crash recovery. Everything the replica signs that it must never contradict
(its proposals, PREPAREs, COMMITs, VIEW-CHANGEs and its view) is in a
``Persist`` placed before the message is sent. A restarted replica reads that
log back: it returns to its view and re-sends, never re-signs, its old votes.

Evidence. Two validly signed messages from one validator for one slot with
different digests (two proposals, two PREPAREs or two COMMITs for one view and
height) prove equivocation and are recorded once (``RecordEvidence``).

Bounds. Messages for views far ahead, heights far beyond the window, or stale
views and heights are dropped and counted by reason; buffers of early
messages, checkpoints and pending transactions all have limits.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

from consensus import journal
from consensus.actions import (
    Action,
    Broadcast,
    CancelTimer,
    Deliver,
    Fetch,
    Persist,
    RecordEvidence,
    Send,
    SetTimer,
    Timer,
    TimerKind,
)
from consensus.application import Application, InvalidBlock
from consensus.config import ReplicaConfig
from consensus.errors import ConfigError
from consensus.evidence import Evidence, is_conflict
from consensus.messages import (
    Body,
    Checkpoint,
    Commit,
    NewView,
    Prepare,
    PreparedCertificate,
    PrePrepare,
    RequestBatch,
    SignedMessage,
    ViewChange,
    commits_of,
    sign_message,
)
from consensus.requests import RequestQueue
from consensus.slots import Slot
from consensus.status import ReplicaStatus
from consensus.view_change import Selection, compute_selection, get_primary, validate_view_change
from ledger.block import Block
from ledger.certificate import (
    CommitCertificate,
    compute_faults_max,
    compute_quorum,
    validate_certificate,
)
from ledger.errors import LedgerError
from ledger.keys import PrivateKey
from ledger.transaction import Transaction
from ledger.types import Hash, Height, TimestampMs, ValidatorIndex, View

VIEWS_AHEAD_MAX = 64  # views beyond the current one worth remembering messages for
CHECKPOINT_CANDIDATES_MAX = 64  # distinct (height, hash) checkpoints being counted
VIEW_CHANGES_PER_SENDER_MAX = 2  # the highest views each peer asked for
EVIDENCE_MAX = 10_000
PROBE_SPAN = 1 << 32  # a probe asks for everything after its chain; peers answer what they have, in parts


@dataclass
class _FetchState:
    target: Height
    candidates: list[ValidatorIndex]
    tried: set[ValidatorIndex] = field(default_factory=set)
    peer: ValidatorIndex | None = None
    progressed: bool = False  # some peer delivered blocks in this round
    probe: bool = False  # asked on suspicion alone: counted as a state transfer once it delivers
    follow: bool = False  # a probe: asks again only while answers are long, i.e. it was far behind


class Replica:
    def __init__(
        self,
        *,
        config: ReplicaConfig,
        key: PrivateKey,
        application: Application,
        committed_height: Height,
        committed_hash: Hash,
        committed_timestamp_ms: TimestampMs,
        committed_certificate: CommitCertificate | None = None,
        log_entries: Sequence[tuple[bytes, bytes]] = (),
    ) -> None:
        config.validate()
        if key.public_key.data != config.validator_keys[config.self_index]:
            raise ConfigError("the replica's key is not the key of validator self_index")
        self._config = config
        self._key = key
        self._application = application
        self._index = config.self_index
        self._n = config.validator_count
        self._quorum = compute_quorum(self._n)
        self._faults_max = compute_faults_max(self._n)
        self._committed_height = committed_height
        self._committed_hash = committed_hash
        self._committed_timestamp_ms = committed_timestamp_ms
        # Proves the committed block final: a VIEW-CHANGE starts from it (``_get_view_change_base``).
        self._committed_certificate = committed_certificate
        self._view = View(0)
        self._changing = False  # True: moving to self._view, waiting for its NEW-VIEW
        self._slots: dict[Height, Slot] = {}
        self._waiting_parent: dict[Height, SignedMessage] = {}
        self._refused: dict[Height, SignedMessage] = {}  # proposals refused in this view: evidence
        self._next_height = Height(committed_height + 1)
        self._ready: dict[Height, tuple[Block, CommitCertificate]] = {}
        self._prepared: dict[Height, PreparedCertificate] = {}
        self._stable = journal.StableCheckpoint(Height(0), Hash(bytes(32)), ())
        self._checkpoint_votes: dict[tuple[Height, Hash], dict[ValidatorIndex, SignedMessage]] = {}
        self._own: dict[tuple[str, View, Height], SignedMessage] = {}
        self._view_changes: dict[View, dict[ValidatorIndex, SignedMessage]] = {}
        self._future: list[SignedMessage] = []
        self._requests = RequestQueue(
            transactions_max=config.pending_transactions_max,
            block_transactions_max=config.block_transactions_max,
            block_bytes_max=config.block_bytes_max,
            # Longer than a backup's node takes to offer a lost predecessor again (one to two
            # request timeouts: node.service re-offers what waited a whole period).
            left_out_patience_ms=3 * config.request_timeout_ms,
        )
        self._last_new_view: SignedMessage | None = None
        self._in_flight_ids: set[Hash] = set()
        self._dropped: Counter[str] = Counter()
        self._blamed: Counter[ValidatorIndex] = Counter()
        self._evidence_seen: set[tuple[ValidatorIndex, str, View, Height]] = set()
        self._view_change_count = 0
        self._state_transfer_count = 0
        self._failed_views = 0
        self._fetch: _FetchState | None = None
        self._heights_seen: dict[ValidatorIndex, Height] = {}
        self._batch_armed = False
        self._owe_block = False  # a backup re-offered a request the application refused
        self._progress_armed = False
        self._view_change_timer_armed = False
        self._own_checkpoint: SignedMessage | None = None
        self._request_armed_ms: int | None = None
        self._last_delivery_ms = -1  # last block this view's quorum committed: the primary is alive
        self._log_keys: dict[Height, list[bytes]] = {}
        self._view_change_keys: dict[View, bytes] = {}
        self._now_ms = 0
        self._actions: list[Action] = []
        self._restore(journal.restore(log_entries))

    # ------------------------------------------------------------------ inputs

    def start(self, now_ms: int) -> list[Action]:
        """Resume after construction: re-send what the log says is in flight, arm timers."""
        self._now_ms = now_ms
        if self._changing:
            self._resend_view_change()
        else:
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
            self._dispatch(message)
        return self._take_actions()

    def on_request(self, transactions: Sequence[Transaction], now_ms: int) -> list[Action]:
        """Client transactions admitted by the node's mempool."""
        self._now_ms = now_ms
        added = self._add_pending(transactions, from_peer=False)
        if self._is_primary():
            self._try_propose(flush=False)
        elif added:
            self._forward(added)
            self._arm_request_timer()
        return self._take_actions()

    def on_timer(self, timer: Timer, now_ms: int) -> list[Action]:
        self._now_ms = now_ms
        if timer.kind is TimerKind.BATCH:
            self._on_batch_timer(timer)
        elif timer.kind is TimerKind.PROGRESS:
            self._on_progress_timer(timer)
        elif timer.kind is TimerKind.REQUEST:
            self._on_request_timer(timer)
        elif timer.kind is TimerKind.VIEW_CHANGE:
            if self._changing and timer.view == self._view:
                self._on_view_change_timer()
        elif timer.kind is TimerKind.FETCH and self._fetch is not None:
            self._on_fetch_timer(self._fetch)
        return self._take_actions()

    def on_fetched(
        self, peer: ValidatorIndex, blocks: Sequence[tuple[Block, CommitCertificate]], now_ms: int
    ) -> list[Action]:
        """Certified blocks a peer answered to ``Fetch`` (empty when the fetch failed)."""
        self._now_ms = now_ms
        delivered, fault = self._apply_fetched(blocks)
        if fault is not None:
            self._drop(f"fetch_{fault}")
            if fault != "empty":  # a peer that is behind too is not to blame
                self._blamed[peer] += 1
        if delivered:
            self._after_delivery()
        fetch = self._fetch
        if fetch is not None and delivered:
            fetch.progressed = True
            if fetch.probe:
                fetch.probe = False
                self._state_transfer_count += 1
            if fetch.follow and delivered <= 2 * self._config.window_max:
                fetch.target = self._committed_height  # near the head: the votes it hears carry it on
        if fetch is not None and peer == fetch.peer:
            if self._committed_height >= fetch.target:
                self._finish_fetch()
            elif delivered and fault is None:
                self._send_fetch(peer, fetch.target)
            else:
                self._fetch_next()
        return self._take_actions()

    def on_peer_connected(self, peer: ValidatorIndex, now_ms: int) -> list[Action]:
        """A link to ``peer`` came up. After a restart or a partition it may hold blocks this
        replica missed, and in an idle network no message would show the gap: ask it."""
        self._now_ms = now_ms
        if peer != self._index and 0 <= peer < self._n:
            self._probe_peers(first=[peer])
        return self._take_actions()

    def on_delivered(self, height: Height, block_hash: Hash) -> None:
        """Nothing to do: the replica counts a block delivered when it emits ``Deliver``."""

    # ------------------------------------------------------------------ status

    def get_status(self) -> ReplicaStatus:
        in_flight = sum(1 for slot in self._slots.values() if slot.block is not None)
        return ReplicaStatus(
            view=self._view,
            primary=get_primary(self._view, self._n),
            is_primary=self._is_primary(),
            committed_height=self._committed_height,
            stable_checkpoint=self._stable.height,
            in_flight=in_flight,
            pending_transactions=len(self._requests),
            view_change_in_progress=self._changing,
            view_changes=self._view_change_count,
            state_transfers=self._state_transfer_count,
            evidence_recorded=len(self._evidence_seen),
            dropped=dict(self._dropped),
            blamed=dict(self._blamed),
        )

    @property
    def faults(self) -> dict[str, int]:
        """Messages dropped, by reason."""
        return dict(self._dropped)

    @property
    def committed_height(self) -> Height:
        return self._committed_height

    @property
    def view(self) -> View:
        return self._view

    # ------------------------------------------------------------------ plumbing

    def _take_actions(self) -> list[Action]:
        actions, self._actions = self._actions, []
        return actions

    def _emit(self, action: Action) -> None:
        self._actions.append(action)

    def _drop(self, reason: str) -> None:
        self._dropped[reason] += 1

    def _sign(self, body: Body) -> SignedMessage:
        return sign_message(body, chain_id=self._config.chain_id, sender=self._index, key=self._key)

    def _broadcast(self, message: SignedMessage) -> None:
        if self._n > 1:
            self._emit(Broadcast(message))

    def _persist(self, key: bytes, value: bytes, height: Height | None = None) -> None:
        self._emit(Persist(((key, value),)))
        if height is not None:
            self._log_keys.setdefault(height, []).append(key)

    def _persist_view(self) -> None:
        self._persist(journal.VIEW_KEY, journal.encode_view(self._view, changing=self._changing))

    def _set_timer(self, timer: Timer, delay_ms: int) -> None:
        self._emit(SetTimer(timer, delay_ms))

    def _is_primary(self) -> bool:
        return get_primary(self._view, self._n) == self._index

    def _get_view_timeout_ms(self) -> int:
        doubled = self._config.view_timeout_ms << min(self._failed_views, 32)
        return min(doubled, self._config.view_timeout_max_ms)

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
            self._on_request_batch(body)

    def _record_conflict(self, first: SignedMessage, second: SignedMessage) -> None:
        body = first.body
        if not isinstance(body, PrePrepare | Prepare | Commit):
            return
        key = (first.sender, body.kind, body.view, body.height)
        self._drop("equivocation")
        if key not in self._evidence_seen and len(self._evidence_seen) < EVIDENCE_MAX:
            self._evidence_seen.add(key)
            self._emit(RecordEvidence(Evidence(first.sender, first, second)))

    # ------------------------------------------------------------------ normal case: ordering

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
        if view > self._view or self._changing:
            self._buffer_future(message)
            return False
        return True

    def _buffer_future(self, message: SignedMessage) -> None:
        # Early messages of a view this replica has not entered yet; replayed on entry.
        if len(self._future) >= self._n * (2 * self._config.window_max + 1) * 3:
            self._drop("future_buffer_full")
            return
        self._future.append(message)
        self._follow_higher_view()

    def _follow_higher_view(self) -> None:
        """f + 1 replicas already order in a higher view: at least one honest replica saw
        its NEW-VIEW. Ask for it with a VIEW-CHANGE to that view (its primary answers a
        VIEW-CHANGE for its current view with the NEW-VIEW)."""
        senders: dict[View, set[ValidatorIndex]] = {}
        for early in self._future:
            view = _get_view(early)
            if view > self._view:
                senders.setdefault(view, set()).add(early.sender)
        joinable = [view for view, group in senders.items() if len(group) > self._faults_max]
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
        if not self._admit_ordering(message, body.view, body.height):
            return
        if message.sender != get_primary(body.view, self._n):
            self._drop("not_primary")
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
        if own is None:
            body: Prepare | Commit = (
                Prepare(slot.view, slot.height, block_hash)
                if kind == "prepare"
                else Commit(slot.view, slot.height, block_hash)
            )
            own = self._sign(body)
            self._own[(kind, slot.view, slot.height)] = own
            if isinstance(body, Prepare):
                key = journal.compute_vote_key(journal.PREPARE, slot.height, slot.view)
                self._persist(key, own.encode(), slot.height)
            else:
                key = journal.compute_vote_key(journal.COMMIT, slot.height, slot.view)
                certificate = slot.get_prepared_certificate(self._quorum)
                self._persist(key, journal.encode_commit(own, certificate), slot.height)
        elif isinstance(own.body, Prepare | Commit) and own.body.block_hash != block_hash:
            self._drop("conflicts_own_vote")
            return
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
            if certificate.view == self._view:
                self._last_delivery_ms = self._now_ms
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
        self._in_flight_ids.difference_update(transaction.id for transaction in block.transactions)
        self._slots.pop(height, None)
        self._waiting_parent.pop(height, None)
        self._refused.pop(height, None)
        self._failed_views = 0
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
        self._try_propose(flush=False)

    def _arm_request_timer(self) -> bool:
        """A backup holding client requests expects the primary to make progress."""
        if self._request_armed_ms is not None or self._changing or self._is_primary():
            return self._request_armed_ms is not None
        if self._requests:
            self._request_armed_ms = self._now_ms
            self._set_timer(Timer(TimerKind.REQUEST, self._view), self._config.request_timeout_ms)
        return self._request_armed_ms is not None

    def _arm_progress_timer(self) -> None:
        if self._progress_armed or self._changing:
            return
        waiting = any(slot.block is not None or slot.commits for slot in self._slots.values())
        if waiting or self._waiting_parent or self._stable.height > self._committed_height:
            self._progress_armed = True
            self._set_timer(Timer(TimerKind.PROGRESS, self._view), self._get_view_timeout_ms())

    # ------------------------------------------------------------------ requests and proposals

    def _add_pending(self, transactions: Sequence[Transaction], *, from_peer: bool) -> list[Transaction]:
        if from_peer:
            # A peer's copy can arrive after the block that holds it (queued for this replica
            # while it was away). Queued again, the primary would leave it out of block after
            # block, each one empty, and a backup would offer it until it gave it up.
            transactions = [tx for tx in transactions if not self._application.is_committed(tx.id)]
        added, refused = self._requests.add(transactions, from_peer=from_peer)
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

    def _on_request_batch(self, body: RequestBatch) -> None:
        # Every replica keeps forwarded requests: if this primary fails, the next one has them.
        added = self._add_pending(body.transactions, from_peer=True)
        if added and not self._is_primary():
            # Another backup suspects the primary: watch it for these requests as well.
            self._requests.mark_offered(added, self._now_ms)
            self._arm_request_timer()
        if self._requests.has_refused(body.transactions):
            self._owe_block = True
        if self._is_primary():
            self._try_propose(flush=False)

    def _can_propose(self) -> bool:
        return (
            self._is_primary()
            and not self._changing
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
        message = self._sign(PrePrepare(self._view, height, block))
        self._own[("pre_prepare", self._view, height)] = message
        key = journal.compute_vote_key(journal.PRE_PREPARE, height, self._view)
        self._persist(key, message.encode(), height)
        self._broadcast(message)
        self._in_flight_ids.update(included)
        self._next_height = Height(height + 1)
        self._accept_proposal(message)
        return True

    def _resume_own_proposals(self) -> None:
        """A primary restarted mid-view re-sends its logged proposals instead of making new ones."""
        proposals = sorted(
            (height, message)
            for (kind, view, height), message in self._own.items()
            if kind == "pre_prepare" and view == self._view and height > self._committed_height
        )
        for height, message in proposals:
            body = message.body
            if not isinstance(body, PrePrepare) or self._get_parent(height) is None:
                break
            try:
                self._application.validate_block(body.block)  # rebuilds the speculative state
            except InvalidBlock:
                self._drop("restored_block_invalid")
            self._broadcast(message)
            self._in_flight_ids.update(transaction.id for transaction in body.block.transactions)
            self._get_slot(height).pre_prepare = message
            self._next_height = Height(height + 1)

    def _on_request_timer(self, timer: Timer) -> None:
        """Requests this backup offered the primary are still not committed: if the primary
        delivered nothing since, change view; otherwise offer them again or give them up
        (``RequestQueue.review_offers``). A live primary can thus leave a request out
        unnoticed (it is then given up), but it cannot stall the chain."""
        if timer.view != self._view or self._changing or self._request_armed_ms is None:
            return
        self._request_armed_ms = None
        review = self._requests.review_offers(
            now_ms=self._now_ms,
            timeout_ms=self._config.request_timeout_ms,
            last_delivery_ms=self._last_delivery_ms,
        )
        if review.given_up:
            self._dropped["request_given_up"] += review.given_up
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
        if self._stable.height > self._committed_height:
            return self._stable.height, [message.sender for message in self._stable.proof]
        for height in sorted(self._slots, reverse=True):
            digests = Counter(
                message.body.block_hash
                for message in self._slots[height].commits.values()
                if isinstance(message.body, Commit)
            )
            if digests and max(digests.values()) >= self._quorum:
                return height, sorted(self._slots[height].commits)
        return None

    # ------------------------------------------------------------------ checkpoints

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
        key = (height, block_hash)
        if key not in self._checkpoint_votes and len(self._checkpoint_votes) >= CHECKPOINT_CANDIDATES_MAX:
            self._drop("checkpoints_full")
            return
        votes = self._checkpoint_votes.setdefault(key, {})
        votes.setdefault(message.sender, message)
        if len(votes) >= self._quorum:
            proof = tuple(votes[sender] for sender in sorted(votes))
            self._make_stable(journal.StableCheckpoint(height, block_hash, proof))

    def _make_stable(self, checkpoint: journal.StableCheckpoint) -> None:
        self._stable = checkpoint
        height = checkpoint.height
        for key in [key for key in self._checkpoint_votes if key[0] <= height]:
            del self._checkpoint_votes[key]
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
        if height > self._committed_height + self._config.window_max:
            self._start_fetch(height, [message.sender for message in checkpoint.proof])
        else:
            self._arm_progress_timer()  # not there within a view timeout: fetch it

    # ------------------------------------------------------------------ view change

    def _start_view_change(self, view: View) -> None:
        """Leave the current view for ``view``: stop ordering, persist and broadcast VIEW-CHANGE."""
        self._view_change_count += 1
        self._failed_views += 1
        for kind in (TimerKind.BATCH, TimerKind.PROGRESS, TimerKind.REQUEST, TimerKind.VIEW_CHANGE):
            self._emit(CancelTimer(Timer(kind, self._view)))
        self._view = view
        self._changing = True
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
                    (journal.VIEW_KEY, journal.encode_view(view, changing=True)),
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
        self._future = [early for early in self._future if _get_view(early) >= view]
        self._try_new_view(view)

    def _get_view_change_base(self) -> tuple[Height, Hash, tuple[SignedMessage, ...]]:
        """Where a VIEW-CHANGE starts, with its proof: the committed block and its certificate,
        so that it carries only the blocks in flight above it (from the stable checkpoint, a
        checkpoint interval of full blocks outgrew the largest peer message). A replica
        restarted without its last certificate starts from its stable checkpoint instead."""
        certificate = self._committed_certificate
        if (
            certificate is not None
            and certificate.height == self._committed_height > self._stable.height
        ):
            proof = commits_of(certificate, self._config.chain_id)
            return self._committed_height, self._committed_hash, proof
        stable = self._stable
        return stable.height, stable.block_hash, stable.proof

    def _on_view_change(self, message: SignedMessage, body: ViewChange) -> None:
        if body.checkpoint_height < self._stable.height and self._own_checkpoint is not None:
            self._emit(Send(message.sender, self._own_checkpoint))  # it lags: show it where we are
        new_view = self._last_new_view
        if (
            body.view == self._view
            and not self._changing
            and new_view is not None
            and isinstance(new_view.body, NewView)
            and new_view.body.view == self._view
        ):
            self._emit(Send(message.sender, new_view))  # it missed the NEW-VIEW it waits for
        if body.view > self._view + VIEWS_AHEAD_MAX:
            self._drop("view_too_far")
            return
        if body.view < self._view or (body.view == self._view and not self._changing):
            self._drop("stale_view")
            return
        reason = validate_view_change(message, self._n, self._quorum)
        if reason is not None:
            self._drop(reason)
            return
        self._view_changes.setdefault(body.view, {}).setdefault(message.sender, message)
        self._forget_old_view_changes_of(message.sender)
        self._join_if_primary_left(message.sender)
        self._join_if_f_plus_one()
        self._arm_view_change_timer()
        self._try_new_view(body.view)

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

    def _try_new_view(self, view: View) -> None:
        if not (self._changing and view == self._view and get_primary(view, self._n) == self._index):
            return
        senders = self._view_changes.get(view, {})
        if len(senders) < self._quorum:
            return
        view_changes = tuple(senders[sender] for sender in sorted(senders)[: self._quorum])
        selection = compute_selection(view_changes)
        proposals: list[SignedMessage] = []
        puts: list[tuple[bytes, bytes]] = [(journal.VIEW_KEY, journal.encode_view(view, changing=False))]
        for offset, block in enumerate(selection.blocks):
            height = Height(selection.checkpoint_height + 1 + offset)
            message = self._own.get(("pre_prepare", view, height))
            if message is None:
                message = self._sign(PrePrepare(view, height, block))
                self._own[("pre_prepare", view, height)] = message
                key = journal.compute_vote_key(journal.PRE_PREPARE, height, view)
                puts.append((key, message.encode()))
                self._log_keys.setdefault(height, []).append(key)
            proposals.append(message)
        self._emit(Persist(tuple(puts)))
        self._last_new_view = self._sign(NewView(view, view_changes, tuple(proposals)))
        self._broadcast(self._last_new_view)
        self._enter_view(view, selection, proposals)

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
        self._persist_view_entry(view)
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

    def _persist_view_entry(self, view: View) -> None:
        self._view = view
        self._changing = False
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
        self._next_height = Height(max(self._committed_height, selection.checkpoint_height) + 1)
        if selection.checkpoint_height > self._committed_height:
            self._start_fetch(selection.checkpoint_height, list(selection.checkpoint_signers))
        for message in proposals:
            self._accept_reproposal(message)
        self._forget_view_changes_before(view)
        early = [message for message in self._future if _get_view(message) == view]
        self._future = [message for message in self._future if _get_view(message) > view]
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
        if body.height <= self._committed_height:
            return
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

    # ------------------------------------------------------------------ state transfer

    def _note_height(self, sender: ValidatorIndex, height: Height) -> None:
        """Track how far each peer's COMMITs and CHECKPOINTs reach: when f + 1 of them are
        beyond the window (or beyond this replica at all while it waits for a NEW-VIEW and
        takes part in nothing), at least one honest replica is there; fetch from it."""
        if height > self._heights_seen.get(sender, Height(0)):
            self._heights_seen[sender] = height
            self._check_lagging()

    def _check_lagging(self) -> None:
        heights = sorted(self._heights_seen.values(), reverse=True)
        if len(heights) <= self._faults_max:
            return
        target = heights[self._faults_max]
        if target > self._committed_height + (0 if self._changing else self._config.window_max):
            peers = [peer for peer, seen in sorted(self._heights_seen.items()) if seen >= target]
            self._start_fetch(target, peers)

    def _probe_peers(self, *, first: Sequence[ValidatorIndex] = ()) -> None:
        """A replica that misses blocks its peers committed looks, from inside, like one whose
        primary stalls: the peers' votes for those heights are spent (they drop its votes and
        skip re-proposals there as stale), and no checkpoint may come to show it the gap. So
        a replica that leaves a view (whatever made it suspect the primary), or waits alone
        for a view change, asks its peers for what follows its chain. A peer that has nothing
        more answers empty, blamed for nothing; this costs one request per peer, and only when
        the replica is stuck anyway. ``first``: peers to ask before the others."""
        if self._fetch is not None or self._n == 1:
            return
        self._start_fetch(Height(self._committed_height + PROBE_SPAN), first, probe=True)

    def _start_fetch(
        self, target: Height, candidates: Sequence[ValidatorIndex], *, probe: bool = False
    ) -> None:
        others = [peer for peer in candidates if peer != self._index]
        others += [
            ValidatorIndex(peer) for peer in range(self._n) if peer != self._index and peer not in others
        ]
        if self._fetch is not None:
            self._fetch.target = Height(max(self._fetch.target, target))
            return
        if not probe:
            self._state_transfer_count += 1
        self._fetch = _FetchState(target, others, probe=probe, follow=probe)
        self._fetch_next()

    def _fetch_next(self) -> None:
        fetch = self._fetch
        if fetch is None:
            return
        if self._committed_height >= fetch.target:
            self._finish_fetch()
            return
        untried = [peer for peer in fetch.candidates if peer not in fetch.tried]
        if not untried:
            fetch.peer = None  # every peer failed once: wait, then go round again
            self._set_timer(Timer(TimerKind.FETCH), self._get_view_timeout_ms())
            return
        fetch.peer = untried[0]
        fetch.tried.add(fetch.peer)
        self._send_fetch(fetch.peer, fetch.target)

    def _send_fetch(self, peer: ValidatorIndex, target: Height) -> None:
        self._emit(Fetch(peer, Height(self._committed_height + 1), target))
        self._set_timer(Timer(TimerKind.FETCH), self._get_view_timeout_ms())  # no answer: ask another

    def _on_fetch_timer(self, fetch: _FetchState) -> None:
        if fetch.peer is not None:
            self._fetch_next()  # the peer never answered
            return
        if not fetch.progressed:
            self._fetch = None  # nobody had the blocks: wait for fresh evidence that someone does
            return
        fetch.tried.clear()
        fetch.progressed = False
        self._fetch_next()

    def _finish_fetch(self) -> None:
        self._fetch = None
        self._emit(CancelTimer(Timer(TimerKind.FETCH)))

    def _apply_fetched(self, blocks: Sequence[tuple[Block, CommitCertificate]]) -> tuple[int, str | None]:
        """Deliver the certified blocks that extend the chain; stop at the first bad one."""
        delivered = 0
        fault: str | None = None if blocks else "empty"
        for block, certificate in blocks:
            if block.height <= self._committed_height:
                continue
            fault = self._check_fetched(block, certificate)
            if fault is not None:
                break
            self._deliver(block, certificate)
            delivered += 1
        return delivered, fault

    def _check_fetched(self, block: Block, certificate: CommitCertificate) -> str | None:
        if block.height != self._committed_height + 1:
            return "gap"
        if block.header.previous_hash != self._committed_hash:
            return "bad_link"
        if block.header.chain_id != self._config.chain_id:
            return "other_chain"
        try:
            block.validate_body()
            validate_certificate(
                certificate,
                chain_id=self._config.chain_id,
                validator_keys=self._config.validator_keys,
                block_hash=block.hash,
                height=block.height,
            )
        except LedgerError:
            return "bad_certificate"
        try:
            self._application.validate_block(block)  # so the application can build on it at once
        except InvalidBlock:
            return "invalid_block"
        return None

    # ------------------------------------------------------------------ restart

    def _restore(self, restored: journal.Restored) -> None:
        self._view = restored.view
        self._changing = restored.changing
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
            if proposal.height > floor and (
                current is None or current.proposal.view < proposal.view
            ):
                self._prepared[proposal.height] = certificate
        for key in restored.keys:
            height = journal.get_key_height(key)
            if height is not None:
                self._log_keys.setdefault(height, []).append(key)


def _get_view(message: SignedMessage) -> View:
    body = message.body
    if isinstance(body, PrePrepare | Prepare | Commit | ViewChange | NewView):
        return body.view
    return View(0)
