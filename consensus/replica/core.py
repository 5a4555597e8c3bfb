"""The replica's state and the plumbing every concern shares: signing, persisting, emitting
actions. Each concern of the protocol is a mixin over this core (``consensus.replica``)."""

from __future__ import annotations

from collections import Counter, deque
from collections.abc import Sequence
from dataclasses import dataclass, field

from consensus import journal
from consensus.actions import (
    Action,
    Broadcast,
    Persist,
    RecordEvidence,
    SetTimer,
    Timer,
)
from consensus.application import Application
from consensus.config import ReplicaConfig
from consensus.errors import ConfigError, InvariantViolation
from consensus.evidence import Evidence
from consensus.messages import (
    Body,
    Commit,
    Prepare,
    PreparedCertificate,
    PrePrepare,
    SignedMessage,
    sign_message,
)
from consensus.replica.buffers import CheckpointVotes, FutureBuffer
from consensus.requests import RequestQueue
from consensus.slots import Slot
from consensus.view_change import get_primary
from ledger.block import Block
from ledger.certificate import (
    CommitCertificate,
    compute_faults_max,
    compute_quorum,
)
from ledger.keys import PrivateKey
from ledger.transaction import Transaction
from ledger.types import Hash, Height, TimestampMs, ValidatorIndex, View

VIEWS_AHEAD_MAX = 64  # views beyond the current one worth remembering messages for
CHECKPOINT_VOTES_PER_SENDER_MAX = 4  # the highest checkpoints of each validator being counted
FUTURE_BLOCKS_PER_SENDER_MAX = 2  # full blocks' bytes of early PRE-PREPAREs held per sender
CHECKPOINT_INTERVALS_AHEAD_MAX = 4  # checkpoints held up to this many intervals above the chain
VIEW_CHANGES_PER_SENDER_MAX = 2  # the highest views each peer asked for
EVIDENCE_KINDS = ("pre_prepare", "prepare", "commit")  # one record each per validator proves it
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
    rounds_failed: int = 0  # rounds in a row in which no peer delivered: the retry backs off


class ReplicaCore:
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
        # The height the NEW-VIEW of self._view proved final: in this view nothing is proposed,
        # prepared or committed at or below it but by that NEW-VIEW (``watermarks``). Persisted
        # with the view record, so a restarted primary does not propose below it.
        self._view_start = Height(0)
        # Restored from a view record without its start (written before the start was kept):
        # the floor of this view is unknown, so nothing is ordered in it; ``start`` leaves it.
        self._floor_unknown = False
        self._slots: dict[Height, Slot] = {}
        self._waiting_parent: dict[Height, SignedMessage] = {}
        self._refused: dict[Height, SignedMessage] = {}  # proposals refused in this view: evidence
        self._next_height = Height(committed_height + 1)
        self._ready: dict[Height, tuple[Block, CommitCertificate]] = {}
        self._prepared: dict[Height, PreparedCertificate] = {}
        self._stable = journal.StableCheckpoint(Height(0), Hash(bytes(32)), ())
        self._checkpoint_votes = CheckpointVotes(per_sender_max=CHECKPOINT_VOTES_PER_SENDER_MAX)
        self._own: dict[tuple[str, View, Height], SignedMessage] = {}
        self._view_changes: dict[View, dict[ValidatorIndex, SignedMessage]] = {}
        # Early messages of views not entered yet, per sender (``buffers``): a PRE-PREPARE,
        # a PREPARE and a COMMIT per height of the window, and two full blocks' bytes.
        self._future = FutureBuffer(
            messages_per_sender_max=3 * (2 * config.window_max + 1),
            bytes_per_sender_max=FUTURE_BLOCKS_PER_SENDER_MAX * config.block_bytes_max,
        )
        self._requests = RequestQueue(
            transactions_max=config.pending_transactions_max,
            block_transactions_max=config.block_transactions_max,
            block_bytes_max=config.block_bytes_max,
            # Longer than a backup's node takes to offer a lost predecessor again (one to two
            # request timeouts: node.service re-offers what waited a whole period).
            left_out_patience_ms=3 * config.request_timeout_ms,
            # A peer's forwarded requests fill its share only, never the whole queue.
            peer_transactions_max=max(
                config.block_transactions_max, config.pending_transactions_max // config.validator_count
            ),
        )
        self._last_new_view: SignedMessage | None = None
        self._new_view_resent_ms: dict[ValidatorIndex, int] = {}  # when each peer was last sent it
        self._new_view_wait: View | None = None  # the view whose NEW-VIEW waits for more VIEW-CHANGEs
        self._in_flight_ids: set[Hash] = set()
        self._dropped: Counter[str] = Counter()
        self._blamed: Counter[ValidatorIndex] = Counter()
        # One conflict per (validator, kind) proves the equivocation; kept until the stable
        # checkpoint passes its height, so the set is bounded by n x 3 (``_record_conflict``).
        self._evidence_seen: dict[tuple[ValidatorIndex, str], Height] = {}
        self._evidence_count = 0
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
        # Liveness (``liveness``): what the replica heard, when its timers were due, which links are down.
        self._last_heard_ms = -1
        self._peer_views: dict[ValidatorIndex, tuple[View, int]] = {}  # view of each peer's last COMMIT, when
        self._unreachable: set[ValidatorIndex] = set()
        self._timers_due_ms: dict[Timer, int] = {}
        self._timers_delay_ms: dict[Timer, int] = {}
        self._timers_rearmed: set[Timer] = set()  # armed afresh after firing late: act next time
        self._refused_skew_ms = -1  # when a proposal was last refused for its timestamp
        self._resumed_count = 0
        self._delivered_commits: dict[Height, set[ValidatorIndex]] = {}  # COMMITs seen, recent heights
        self._watch_view = View(-1)  # the view whose primary's throughput is being watched
        self._watch_since_ms = 0
        self._watched: dict[Hash, int] = {}  # requests offered to that primary, not yet committed
        self._offered_ms: deque[int] = deque()
        self._served_ms: deque[int] = deque()
        self._view_best_served = 0  # most of this backup's requests committed in one window, this view
        self._best_served = 0  # ... in any earlier view: what a primary here can do
        self._slow_primary_count = 0
        self._retransmit_count = 0
        # A peer alone in a higher view (``liveness._join_if_alone_too_long``): since when this
        # replica has heard its VIEW-CHANGE for that view, and how often each peer pulled it up.
        self._alone_since: dict[ValidatorIndex, tuple[View, int]] = {}
        self._pulled_up_by: dict[ValidatorIndex, int] = {}
        self._now_ms = 0
        self._actions: list[Action] = []
        self._restore(journal.restore(log_entries))

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

    def _sign_once(self, body: PrePrepare | Prepare | Commit) -> tuple[SignedMessage, bool]:
        """Sign a proposal or vote, kept in ``_own``: the one signing path for them, with
        whether it is new (to be persisted before it is sent). What was signed for a (kind,
        view, height) is returned again, never re-signed; a second digest there would be
        this replica equivocating, so it raises instead of signing."""
        key = (body.kind, body.view, body.height)
        digest = body.block.hash if isinstance(body, PrePrepare) else body.block_hash
        own = self._own.get(key)
        if own is None:
            own = self._sign(body)
            self._own[key] = own
            return own, True
        signed = own.body
        earlier = signed.block.hash if isinstance(signed, PrePrepare) else getattr(signed, "block_hash", None)
        if earlier != digest:
            raise InvariantViolation(f"replica {self._index}: would sign a second {body.kind} for {key[1:]}")
        return own, False

    def _broadcast(self, message: SignedMessage) -> None:
        if self._n > 1:
            self._emit(Broadcast(message))

    def _persist(self, key: bytes, value: bytes, height: Height | None = None) -> None:
        self._emit(Persist(((key, value),)))
        if height is not None:
            self._log_keys.setdefault(height, []).append(key)

    def _persist_view(self) -> None:
        self._persist(journal.VIEW_KEY, self._encode_view())

    def _encode_view(self) -> bytes:
        return journal.encode_view(self._view, changing=self._changing, start=self._view_start)

    def _set_timer(self, timer: Timer, delay_ms: int) -> None:
        self._emit(SetTimer(timer, delay_ms))
        self._remember_timer(timer, delay_ms)

    def _is_primary(self) -> bool:
        return get_primary(self._view, self._n) == self._index

    def _get_view_timeout_ms(self) -> int:
        doubled = self._config.view_timeout_ms << min(self._failed_views, 32)
        return min(doubled, self._config.view_timeout_max_ms)

    def _record_conflict(self, first: SignedMessage, second: SignedMessage) -> None:
        body = first.body
        if not isinstance(body, PrePrepare | Prepare | Commit):
            return
        self._drop("equivocation")
        key = (first.sender, body.kind)
        if key in self._evidence_seen:
            return  # this validator's equivocation of this kind is on record already
        self._evidence_seen[key] = body.height
        self._evidence_count += 1
        self._emit(RecordEvidence(Evidence(first.sender, first, second)))

    def _forget_evidence_up_to(self, height: Height) -> None:
        """Evidence at or below the stable checkpoint is recorded (the node stores it); a
        later equivocation of the same validator is worth recording again."""
        for key in [key for key, recorded in self._evidence_seen.items() if recorded <= height]:
            del self._evidence_seen[key]

    # What one concern asks of another. Each is defined by the mixin named beside it; the
    # declarations here let every mixin be type-checked on its own.

    def _restore(self, restored: journal.Restored) -> None:  # recovery
        raise NotImplementedError

    def _dispatch(self, message: SignedMessage) -> None:  # the replica: one handler per message kind
        raise NotImplementedError

    def _advance(self) -> None:  # ordering
        raise NotImplementedError

    def _after_delivery(self) -> None:  # ordering
        raise NotImplementedError

    def _get_parent(self, height: Height) -> tuple[Hash, TimestampMs] | None:  # ordering
        raise NotImplementedError

    def _get_slot(self, height: Height) -> Slot:  # ordering
        raise NotImplementedError

    def _vote(self, slot: Slot, kind: str) -> None:  # ordering
        raise NotImplementedError

    def _check_block_limits(self, block: Block) -> str | None:  # ordering
        raise NotImplementedError

    def _accept_proposal(self, message: SignedMessage) -> None:  # ordering
        raise NotImplementedError

    def _deliver(self, block: Block, certificate: CommitCertificate) -> None:  # ordering
        raise NotImplementedError

    def _arm_request_timer(self) -> bool:  # ordering
        raise NotImplementedError

    def _arm_progress_timer(self) -> None:  # ordering
        raise NotImplementedError

    def _forward(self, transactions: Sequence[Transaction], *, reset: bool = True) -> None:  # proposing
        raise NotImplementedError

    def _try_propose(self, *, flush: bool) -> None:  # proposing
        raise NotImplementedError

    def _resume_own_proposals(self) -> None:  # proposing
        raise NotImplementedError

    def _send_checkpoint(self, height: Height, block_hash: Hash) -> None:  # checkpoints
        raise NotImplementedError

    def _get_low_water_mark(self) -> Height:  # watermarks
        raise NotImplementedError

    def _get_floor(self, view: View) -> Height:  # watermarks
        raise NotImplementedError

    def _is_below_floor(self, height: Height) -> bool:  # watermarks
        raise NotImplementedError

    def _is_caught_up(self) -> bool:  # watermarks
        raise NotImplementedError

    def _raise_next_height(self) -> None:  # watermarks
        raise NotImplementedError

    def _get_catch_up_target(self) -> tuple[Height, list[ValidatorIndex]] | None:  # watermarks
        raise NotImplementedError

    def _catch_up_to_floor(self) -> None:  # watermarks
        raise NotImplementedError

    def _get_checkpoint_high_water_mark(self) -> Height:  # watermarks
        raise NotImplementedError

    def _start_view_change(self, view: View) -> None:  # view_changes
        raise NotImplementedError

    def _get_view_change_base(self) -> tuple[Height, Hash, tuple[SignedMessage, ...]]:  # view_changes
        raise NotImplementedError

    def _note_height(self, sender: ValidatorIndex, height: Height) -> None:  # catch_up
        raise NotImplementedError

    def _check_lagging(self) -> None:  # catch_up
        raise NotImplementedError

    def _probe_peers(self, *, first: Sequence[ValidatorIndex] = ()) -> None:  # catch_up
        raise NotImplementedError

    def _start_fetch(  # catch_up
        self, target: Height, candidates: Sequence[ValidatorIndex], *, probe: bool = False
    ) -> None:
        raise NotImplementedError

    def _fetch_next(self) -> None:  # catch_up
        raise NotImplementedError

    def _broadcast_requests(self, transactions: Sequence[Transaction]) -> None:  # proposing
        raise NotImplementedError

    def _remember_timer(self, timer: Timer, delay_ms: int) -> None:  # liveness
        raise NotImplementedError

    def _is_isolated_since(self, since_ms: int) -> bool:  # liveness
        raise NotImplementedError

    def _get_request_timeout_ms(self) -> int:  # liveness
        raise NotImplementedError

    def _arm_retransmit_timer(self) -> None:  # liveness
        raise NotImplementedError

    def _has_evidence_ahead(self) -> bool:  # liveness
        raise NotImplementedError

    def _note_offered(self, transactions: list[Transaction]) -> None:  # liveness
        raise NotImplementedError

    def _note_served(self, block: Block, certificate: CommitCertificate) -> None:  # liveness
        raise NotImplementedError

    def get_liveness_concern(self) -> str | None:  # liveness
        raise NotImplementedError

    def _follow_certified_view(self) -> None:  # liveness
        raise NotImplementedError

    def _join_if_alone_too_long(self, sender: ValidatorIndex, view: View) -> None:  # liveness
        raise NotImplementedError

    def _join_if_primary_unreachable(self, sender: ValidatorIndex, view: View) -> None:  # liveness
        raise NotImplementedError

    def _is_primary_slow(self) -> bool:  # liveness
        raise NotImplementedError

    def _get_fetch_retry_ms(self, fetch: _FetchState) -> int:  # liveness
        raise NotImplementedError
