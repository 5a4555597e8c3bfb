"""A deterministic in-memory network of replicas for the consensus unit tests.

Messages travel as bytes through ``decode_message`` (the real door), with
seeded delays, so they arrive reordered but reproducibly; timers run on a
virtual clock; each replica's Persists go to a dict that a restart reads back;
Fetch is answered from the serving peer's delivered chain. Every Deliver is
checked: in height order, linked, and with a certificate that verifies. The
chain itself (keys, transactions, the fake application) is in ``fake_chain``.
"""

from __future__ import annotations

import heapq
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

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
)
from consensus.evidence import Evidence
from consensus.journal import COMMIT, PREPARE, compute_view_change_key, compute_vote_key
from consensus.message_door import decode_message, is_from_link_peer
from consensus.messages import Commit, NewView, Prepare, PrePrepare, SignedMessage, ViewChange
from consensus.replica import Replica
from ledger.block import Block
from ledger.certificate import CommitCertificate, validate_certificate
from ledger.transaction import Transaction
from ledger.types import Hash, Height
from tests.unit.consensus.fake_chain import (
    CHAIN_ID,
    GENESIS_HASH,
    GENESIS_TIME_MS,
    FakeApplication,
    get_key,
    make_config,
)


@dataclass
class Node:
    index: int
    replica: Replica
    application: FakeApplication
    log: dict[bytes, bytes] = field(default_factory=dict)
    chain: list[tuple[Block, CommitCertificate]] = field(default_factory=list)
    evidence: list[Evidence] = field(default_factory=list)
    fetches: list[Fetch] = field(default_factory=list)
    sent: list[SignedMessage] = field(default_factory=list)
    in_flight_max: int = 0

    @property
    def height(self) -> int:
        return len(self.chain)

    @property
    def hashes(self) -> list[Hash]:
        return [block.hash for block, _ in self.chain]


MessageFilter = Callable[[int, int, SignedMessage], bool]  # (sender, receiver, message) -> deliver?
MessageRewriter = Callable[[int, int, SignedMessage], SignedMessage]


class Cluster:
    def __init__(
        self,
        n: int,
        *,
        seed: int = 1,
        delay_ms: tuple[int, int] = (1, 10),
        replica_overrides: dict[int, dict[str, Any]] | None = None,
        **overrides: Any,
    ) -> None:
        self.n = n
        self.rng = random.Random(seed)
        self.delay_ms = delay_ms
        self.overrides = overrides
        self.replica_overrides = replica_overrides or {}  # settings of one replica only
        self.holds: list[Callable[[int, int, SignedMessage], int]] = []  # extra delay of a message, ms
        self.now_ms = GENESIS_TIME_MS + 1000
        self.events: list[tuple[int, int, str, int, Any]] = []
        self.sequence = 0
        self.timers: dict[tuple[int, Timer], int] = {}
        self.crashed: set[int] = set()
        self.cut: set[int] = set()  # partitioned from everyone
        self.filters: list[MessageFilter] = []
        self.rewriters: list[MessageRewriter] = []  # a Byzantine sender's replacements
        self.corrupt_fetch_from: set[int] = set()
        self.lost_fetch_from: set[int] = set()  # these peers' answers to Fetch never arrive
        self.unanswered_fetch_from: set[int] = set()  # their answers fail (empty), as over a dead link
        self.clock_offset_ms: dict[int, int] = {}  # a replica whose clock is wrong by this much
        self.fetch_answer_max = 1 << 30  # blocks in one answer to a Fetch, as a node caps its responses
        # Every digest each replica signed per (kind, view, height), across its restarts.
        self.signed: dict[tuple[int, str, int, int], Hash] = {}
        self.nodes = [self._make_node(index, {}) for index in range(n)]
        for node in self.nodes:
            self.run(node.index, node.replica.start(self.clock(node.index)))

    def clock(self, index: int) -> int:
        """What replica ``index``'s clock reads now."""
        return self.now_ms + self.clock_offset_ms.get(index, 0)

    def _make_node(self, index: int, log: dict[bytes, bytes], chain: Sequence[Any] = ()) -> Node:
        application = FakeApplication()
        committed_hash, committed_ms = GENESIS_HASH, GENESIS_TIME_MS
        for block, _ in chain:
            application.commit(block)
            committed_hash, committed_ms = block.hash, block.header.timestamp_ms
        replica = Replica(
            config=make_config(self.n, index, **{**self.overrides, **self.replica_overrides.get(index, {})}),
            key=get_key(100 + index),
            application=application,
            committed_height=Height(len(chain)),
            committed_hash=committed_hash,
            committed_timestamp_ms=committed_ms,
            committed_certificate=chain[-1][1] if chain else None,
            log_entries=sorted(log.items()),
        )
        return Node(index, replica, application, dict(log), list(chain))

    def restart(self, index: int) -> Node:
        """A new Replica over the same persisted log and committed chain, as after a crash."""
        old = self.nodes[index]
        for key in [key for key in self.timers if key[0] == index]:
            del self.timers[key]
        node = self._make_node(index, old.log, old.chain)
        node.evidence = old.evidence
        self.nodes[index] = node
        self.crashed.discard(index)
        self.run(index, node.replica.start(self.clock(index)))
        return node

    # ---------------------------------------------------------------- actions

    def run(self, index: int, actions: Sequence[Action]) -> None:
        node = self.nodes[index]
        for action in actions:
            if isinstance(action, Send):
                self._check_persisted_before_send(node, action.message)
                self._send(index, action.to, action.message)
            elif isinstance(action, Broadcast):
                self._check_persisted_before_send(node, action.message)
                for to in range(self.n):
                    if to != index:
                        self._send(index, to, action.message)
            elif isinstance(action, Persist):
                node.log.update(action.puts)
                for key in action.deletes:
                    node.log.pop(key, None)
            elif isinstance(action, Deliver):
                self._check_deliver(node, action)
            elif isinstance(action, SetTimer):
                self.timers[(index, action.timer)] = self.now_ms + action.delay_ms
            elif isinstance(action, CancelTimer):
                self.timers.pop((index, action.timer), None)
            elif isinstance(action, Fetch):
                node.fetches.append(action)
                self._push(self.now_ms + self._delay(), "fetch", index, action)
            elif isinstance(action, RecordEvidence):
                node.evidence.append(action.evidence)
        node.in_flight_max = max(node.in_flight_max, node.replica.get_status().in_flight)
        node.replica.check_invariants()  # after every step: every input ends here

    def _check_persisted_before_send(self, node: Node, message: SignedMessage) -> None:
        node.sent.append(message)
        if message.sender != node.index:  # a NEW-VIEW relayed as its primary signed it
            relayed = is_from_link_peer(message, node.index)
            assert relayed, f"replica {node.index} sent another's {message.kind}"
            return
        body = message.body
        # A NEW-VIEW carries PRE-PREPAREs its sender signed too: they count as proposals.
        signed = (message, *body.pre_prepares) if isinstance(body, NewView) else (message,)
        for one in signed:
            if isinstance(one.body, PrePrepare | Prepare | Commit):
                vote = one.body
                digest = vote.block.hash if isinstance(vote, PrePrepare) else vote.block_hash
                slot = (node.index, vote.kind, vote.view, vote.height)
                assert self.signed.setdefault(slot, digest) == digest, (
                    f"replica {node.index} signed two {slot}"
                )
        if isinstance(body, Prepare | Commit):
            kind = PREPARE if isinstance(body, Prepare) else COMMIT
            assert compute_vote_key(kind, body.height, body.view) in node.log, "vote sent before persisted"
        if isinstance(body, ViewChange):
            assert compute_view_change_key(body.view) in node.log, "view change sent before persisted"

    def _check_deliver(self, node: Node, action: Deliver) -> None:
        block, certificate = action.block, action.certificate
        assert block.height == node.height + 1, "delivered out of order"
        parent = node.chain[-1][0].hash if node.chain else GENESIS_HASH
        assert block.header.previous_hash == parent
        validate_certificate(
            certificate,
            chain_id=CHAIN_ID,
            validator_keys=make_config(self.n, 0).validator_keys,
            block_hash=block.hash,
            height=block.height,
        )
        node.application.commit(block)
        node.chain.append((block, certificate))

    def _delay(self) -> int:
        return self.rng.randint(*self.delay_ms)

    def _push(self, at_ms: int, kind: str, index: int, payload: Any) -> None:
        self.sequence += 1
        heapq.heappush(self.events, (at_ms, self.sequence, kind, index, payload))

    def _send(self, sender: int, to: int, message: SignedMessage) -> None:
        if sender in self.crashed or {sender, to} & self.cut:
            return
        if not all(keep(sender, to, message) for keep in self.filters):
            return
        for rewrite in self.rewriters:
            message = rewrite(sender, to, message)
        held_ms = sum(hold(sender, to, message) for hold in self.holds)
        self._push(self.now_ms + self._delay() + held_ms, "message", to, (sender, message.encode()))

    # ---------------------------------------------------------------- the clock

    def submit(self, transactions: Sequence[Transaction], to: Sequence[int] | None = None) -> None:
        for index in range(self.n) if to is None else to:
            if index not in self.crashed:
                self.run(index, self.nodes[index].replica.on_request(transactions, self.clock(index)))

    def step(self) -> bool:
        # A paused (crashed) replica's timers wait until it runs again; restart() clears them.
        armed = [item for item in self.timers.items() if item[0][0] not in self.crashed]
        next_timer = min(armed, key=lambda item: (item[1], item[0][0]), default=None)
        next_event = self.events[0] if self.events else None
        if next_timer is None and next_event is None:
            return False
        if next_event is None or (next_timer is not None and next_timer[1] < next_event[0]):
            assert next_timer is not None
            (index, timer), at_ms = next_timer
            del self.timers[(index, timer)]
            self.now_ms = max(self.now_ms, at_ms)
            self.run(index, self.nodes[index].replica.on_timer(timer, self.clock(index)))
            return True
        at_ms, _, kind, index, payload = heapq.heappop(self.events)
        self.now_ms = max(self.now_ms, at_ms)
        if index in self.crashed or index in self.cut:
            return True
        if kind == "message":
            sender, data = payload
            message = decode_message(
                data, chain_id=CHAIN_ID, validator_keys=make_config(self.n, 0).validator_keys
            )
            assert is_from_link_peer(message, sender)
            self.run(index, self.nodes[index].replica.on_message(message, self.clock(index)))
        else:
            self._answer_fetch(index, payload)
        return True

    def _answer_fetch(self, index: int, fetch: Fetch) -> None:
        server = self.nodes[fetch.peer]
        last = min(fetch.to_height, fetch.from_height - 1 + self.fetch_answer_max)
        blocks = (
            []
            if fetch.peer in self.crashed | self.cut | self.unanswered_fetch_from | self.lost_fetch_from
            else server.chain[fetch.from_height - 1 : last]
        )
        if fetch.peer in self.corrupt_fetch_from and blocks:
            block, certificate = blocks[0]
            blocks = [(block, replace(certificate, votes=certificate.votes[:1])), *blocks[1:]]
        self.run(index, self.nodes[index].replica.on_fetched(fetch.peer, blocks, self.clock(index)))

    def run_until(
        self, condition: Callable[[], bool], *, deadline_ms: int = 120_000, steps_max: int = 200_000
    ) -> bool:
        """Run events until ``condition`` holds; False if the virtual deadline passes first."""
        end_ms = self.now_ms + deadline_ms
        for _ in range(steps_max):
            if condition():
                return True
            if self.now_ms > end_ms or not self.step():
                return condition()
        return condition()

    def live(self) -> list[Node]:
        return [node for node in self.nodes if node.index not in self.crashed]

    def all_reach(self, height: int, nodes: Sequence[Node] | None = None) -> Callable[[], bool]:
        chosen = self.live() if nodes is None else nodes
        return lambda: all(node.height >= height for node in chosen)

    def assert_same_chain(self, nodes: Sequence[Node] | None = None) -> None:
        chosen = self.live() if nodes is None else nodes
        shortest = min(node.height for node in chosen)
        reference = chosen[0].hashes[:shortest]
        for node in chosen:
            assert node.hashes[:shortest] == reference, f"replica {node.index} forked"
