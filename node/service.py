"""The running node: wires the PBFT replica to LevelDB, the peer links, timers and the client API.

Everything runs on one event loop. The replica is a state machine that answers
each input with a list of actions (an answer); ``_run`` carries them out in
order, one answer at a time: an answer the replica gives while another is being
carried out (a commit offers newly ready transactions, and the replica answers
that) waits in a queue until the rest of the first is done, so a CancelTimer of
an earlier answer can never cancel a timer a later one set. A Persist is on disk
before any message after it is sent (node/log_writer.py writes the log in a
thread and holds those messages back until then). Blocks are committed through
LedgerApplication, which writes each with its certificate, receipts and state
changes in one synced LevelDB batch; blocks delivered back to back (a replayed
state-transfer answer) share one batch.
"""

from __future__ import annotations

import asyncio
import itertools
from collections import deque
from collections.abc import Callable, Coroutine, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import structlog

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
from consensus.errors import PeerFault
from consensus.message_door import VerifiedMessages, decode_message, is_from_link_peer
from consensus.messages import RequestBatch
from consensus.replica import Replica
from contracts.execution import get_next_nonce
from contracts.genesis import compute_genesis_changes
from ledger.block import Block
from ledger.certificate import CommitCertificate, compute_quorum
from ledger.errors import LedgerError
from ledger.genesis import Genesis
from ledger.keys import PrivateKey
from ledger.receipt import Receipt
from ledger.transaction import Transaction
from ledger.types import Address, Hash, ValidatorIndex
from node.admission import AdmissionControl, validate_submission
from node.application import LedgerApplication
from node.block_fetches import BlockFetches, Fetched
from node.byzantine import make_outbox, make_state_transfer_server
from node.clock import now_ms
from node.config_sections import NodeConfig
from node.log_writer import ConsensusLogWriter
from node.mempool import Mempool
from node.peer_links import PeerRequests, RequestHandler, make_peer_network
from node.pruning import BlockPruner
from node.replica_setup import make_replica
from node.signature_pool import SignaturePool
from node.state_transfer import BlockFetcher
from node.traffic import MessageTraffic
from p2p.observer_links import ObserverEndpoint
from storage.chain import ChainStore
from storage.consensus_log import ConsensusLogStore
from storage.evidence import EvidenceStore
from storage.kv import LevelDBStore

log = structlog.get_logger("hubledger.node")
CommitListener = Callable[[Block, CommitCertificate, Sequence[Receipt]], None]


@dataclass(frozen=True)
class SubmitOutcome:
    transaction_id: Hash
    status: str  # pending | committed | refused
    error: LedgerError | None = None  # why it was refused (node/admission.py); nothing of it was kept


class Node:
    def __init__(self, config: NodeConfig, genesis: Genesis, key: PrivateKey) -> None:
        self.config = config
        self.genesis = genesis
        self.index = ValidatorIndex(genesis.validator_index(config.node.name))
        if genesis.validators[self.index].public_key != key.public_key:
            raise ValueError(
                f"{config.node.key_file} is not the key of validator {config.node.name} in genesis"
            )
        self._key = key
        self.kv = LevelDBStore.open(Path(config.node.data_dir))
        storage = config.storage
        keep_undo = storage.keep_blocks > 0 or storage.state_history_blocks > 0
        self.chain = ChainStore(self.kv, keep_undo=keep_undo)
        self.pruner = BlockPruner(self.chain, storage.keep_blocks, storage.state_history_blocks)
        genesis_changes = compute_genesis_changes(genesis)
        self.chain.initialize(genesis.hash, genesis_changes)
        self.consensus_log = ConsensusLogStore(self.kv)
        self.failed = asyncio.Event()  # set when the node must stop: runner.serve then exits with status 1
        self.failure = ""
        self.log_writer = ConsensusLogWriter(self.consensus_log, on_failure=self._fail)
        self.evidence = EvidenceStore(self.kv)
        self.application = LedgerApplication(chain=self.chain, chain_id=genesis.chain_id)
        self.mempool = Mempool(
            transactions_max=config.mempool.transactions_max, nonce_window=config.mempool.nonce_window
        )
        self.admission = AdmissionControl(
            backlog_max_ms=config.mempool.backlog_max_ms, backlog_floor=config.mempool.backlog_floor
        )
        self.replica = self._make_replica()
        self.traffic = MessageTraffic()
        self._verified = VerifiedMessages()
        self.requests = PeerRequests(make_state_transfer_server(config, self.chain).handle)
        self.network = make_peer_network(config, genesis, self.index, key, self.requests, {
            "on_message": self._on_peer_message,
            "on_connected": self._on_peer_connected,
            "on_disconnected": self._on_peer_disconnected,
        })
        self.observers = ObserverEndpoint(self.requests.answer_observer)  # read-only links
        fetcher = BlockFetcher(
            self.network,
            SignaturePool(),
            is_verified=self.application.is_verified,
            mark_verified=self.application.mark_verified,
        )
        names = [validator.name for validator in genesis.validators]
        self.fetches = BlockFetches(fetcher, names, self._on_fetched, self._spawn)
        self.byzantine = make_outbox(config, genesis, self.index, key, self.network)
        self._timers: dict[Timer, asyncio.TimerHandle] = {}
        self._answers: deque[Sequence[Action]] = deque()  # the replica's answers waiting to be run
        self._running_answers = False
        self._view = self.replica.view
        self._listeners: list[CommitListener] = []
        self._tasks: set[asyncio.Task[None]] = set()
        self.started_ms = now_ms()

    def _make_replica(self) -> Replica:
        return make_replica(
            self.config, self.genesis, self._key, self.application, self.chain, self.consensus_log
        )

    def hold_fetches(self) -> None:
        self.fetches.hold()

    def release_fetches(self) -> None:
        self.fetches.release()

    def restart_replica(self) -> None:
        """Start a new replica from the chain store, which was replaced under the running one
        (a join from a snapshot: node/snapshot_sync.py); the old one's timers and answers go."""
        for handle in self._timers.values():
            handle.cancel()
        self._timers.clear()
        self._answers.clear()
        self.fetches.forget_held()  # the old replica's: the new one asks for what it needs
        self.replica = self._make_replica()
        self._run(self.replica.start(now_ms()))
        for peer in self.network.connected_peers():
            self._on_peer_connected(peer)

    def _fail(self, reason: str) -> None:
        self.failure = f"the consensus log could not be written ({reason})"
        self.failed.set()

    @property
    def quorum(self) -> int:
        return compute_quorum(len(self.genesis.validators))

    def add_commit_listener(self, listener: CommitListener) -> None:
        self._listeners.append(listener)

    def add_request_handler(self, kind: str, handler: RequestHandler) -> None:
        """Answer peers' requests of ``kind`` (a CBOR map with that "kind") with ``handler``."""
        self.requests.add(kind, handler)

    @property
    def is_fetching(self) -> bool:
        return self.fetches.in_flight > 0

    async def start(self) -> None:
        await self.network.start()
        self._run(self.replica.start(now_ms()))
        self._spawn(self._reoffer_forever())
        log.info(
            "node_started",
            validator=self.config.node.name,
            height=self.chain.latest_height(),
            validators=len(self.genesis.validators),
        )

    async def stop(self) -> None:
        for handle in self._timers.values():
            handle.cancel()
        self._timers.clear()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self.fetches.close()
        await self.log_writer.drain()
        await self.network.stop()
        height = self.chain.latest_height()
        self.kv.close()
        log.info("node_stopped", height=height)

    # Client input

    def get_committed_nonce(self, address: Address) -> int:
        return get_next_nonce(self.application.committed_state, address)

    def is_busy(self) -> bool:
        """True while the transactions waiting here would take too long to commit (node/admission.py)."""
        return self.admission.is_busy(self.mempool.handed_out_count, now_ms())

    def submit(
        self, transactions: Sequence[Transaction], *, refusal: LedgerError | None = None
    ) -> list[SubmitOutcome]:
        """Admit each transaction the rules of node/admission.py accept; a refused one is
        answered with its error (``refusal`` for any new one: node/standing.py). Hand those
        now ready to the replica."""
        outcomes: list[SubmitOutcome] = []
        senders: dict[Address, None] = {}
        for transaction in transactions:
            try:
                admitted = validate_submission(self, transaction, refusal)
                if admitted.status == "new" and self.mempool.add(transaction, admitted.committed_nonce):
                    senders[transaction.sender_address] = None
            except LedgerError as error:
                outcomes.append(SubmitOutcome(transaction.id, "refused", error))
                continue
            status = "committed" if admitted.status == "committed" else "pending"
            outcomes.append(SubmitOutcome(transaction.id, status))
        self._offer_ready(senders)
        return outcomes

    def _offer_ready(self, senders: Iterable[Address]) -> None:
        ready = self.mempool.take_ready(senders, self.get_committed_nonce)
        if ready:
            self._run(self.replica.on_request(ready, now_ms()))

    async def _reoffer_forever(self) -> None:
        """Offer again what was handed to the replica two periods ago and is still waiting:
        the replica may have given up on it, or lost it when a view changed."""
        period_s = self.config.consensus.request_timeout_ms / 1000
        previous: set[Hash] = set()
        while True:
            await asyncio.sleep(period_s)
            waiting = self.mempool.list_handed_out()
            stuck = [transaction for transaction in waiting if transaction.id in previous]
            previous = {transaction.id for transaction in waiting}
            if stuck:
                self._run(self.replica.on_request(stuck, now_ms()))

    # Peer input (the one door: decode and verify, or blame the peer)

    def _on_peer_message(self, peer: int, payload: bytes) -> None:
        try:
            message = decode_message(
                payload,
                chain_id=self.genesis.chain_id,
                validator_keys=self.genesis.validator_keys,
                verified=self._verified,
            )
        except PeerFault as fault:
            self.network.report_fault(peer, fault.code)
            log.debug("peer_fault", peer=peer, reason=fault.message)
            return
        if not is_from_link_peer(message, peer):
            self.network.report_fault(peer, "SENDER_MISMATCH")
            return
        if isinstance(message.body, RequestBatch):  # the door checked their signatures: not twice
            for transaction in message.body.transactions:
                self.application.mark_verified(transaction)
        self.traffic.on_received(message.kind, len(payload))
        self._run(self.replica.on_message(message, now_ms()))

    def _on_peer_connected(self, peer: int) -> None:
        self._run(self.replica.on_peer_connected(ValidatorIndex(peer), now_ms()))

    def report_peers_ahead(self, peers: list[int]) -> None:
        """The peer status board found this hub stalled behind ``peers`` (node/peer_status.py)."""
        self._run(self.replica.on_peers_ahead([ValidatorIndex(peer) for peer in peers], now_ms()))

    def _on_peer_disconnected(self, peer: int) -> None:
        self._run(self.replica.on_peer_disconnected(ValidatorIndex(peer), now_ms()))

    # Actions

    def _run(self, actions: Sequence[Action]) -> None:
        """Carry out one answer of the replica, after any still queued; never re-entrantly."""
        self._answers.append(actions)
        if self._running_answers:
            return  # called from inside an answer being carried out: it runs when that one is done
        self._running_answers = True
        try:
            while self._answers:
                self._carry_out(self._answers.popleft())
        except BaseException:
            self._answers.clear()  # as before the queue: a failing answer ends the answers it caused
            raise
        finally:
            self._running_answers = False

    def _carry_out(self, actions: Sequence[Action]) -> None:
        # Consecutive deliveries (a replayed state-transfer answer) share one synced write.
        for delivering, group in itertools.groupby(actions, key=lambda action: isinstance(action, Deliver)):
            if delivering:
                self._commit([action for action in group if isinstance(action, Deliver)])
            else:
                for action in group:
                    self._run_one(action)
        view = self.replica.view
        if view != self._view:
            primary = self.genesis.validators[view % len(self.genesis.validators)].name
            log.warning("view_changed", view=view, previous_view=self._view, primary=primary)
            self._view = view

    def _run_one(self, action: Action) -> None:
        match action:
            case Send() | Broadcast():
                self.log_writer.send_when_durable(lambda: self._send(action))
            case Persist(puts=puts, deletes=deletes):
                self.log_writer.persist(puts, deletes)
            case SetTimer(timer=timer, delay_ms=delay_ms):
                self._set_timer(timer, delay_ms)
            case CancelTimer(timer=timer):
                handle = self._timers.pop(timer, None)
                if handle is not None:
                    handle.cancel()
            case Fetch():
                self.fetches.start(action)
            case RecordEvidence(evidence=evidence):
                if self.evidence.add(evidence.id, evidence.encode()):
                    log.warning("evidence_recorded", validator=evidence.validator)

    def _send(self, action: Send | Broadcast) -> None:
        if self.byzantine is not None:
            self.byzantine.run(action)  # a tester's Byzantine node: node/byzantine.py
            return
        payload = action.message.encode()
        if isinstance(action, Send):
            self.traffic.on_sent(action.message.kind, len(payload))
            self.network.send(action.to, payload)
        else:
            self.traffic.on_sent(action.message.kind, len(payload), copies=len(self.genesis.validators) - 1)
            self.network.broadcast(payload)

    def _set_timer(self, timer: Timer, delay_ms: int) -> None:
        previous = self._timers.pop(timer, None)
        if previous is not None:
            previous.cancel()
        loop = asyncio.get_running_loop()
        self._timers[timer] = loop.call_later(delay_ms / 1000, self._on_timer, timer)

    def _on_timer(self, timer: Timer) -> None:
        self._timers.pop(timer, None)
        self._run(self.replica.on_timer(timer, now_ms()))

    def _commit(self, delivered: Sequence[Deliver]) -> None:
        started = now_ms()
        blocks = [(action.block, action.certificate) for action in delivered]
        receipts = self.application.commit_blocks(blocks)
        for action, block_receipts in zip(delivered, receipts, strict=True):
            self._on_committed(action.block, action.certificate, block_receipts, started)
        self.pruner.after_commit()
        senders = {tx.sender_address: None for action in delivered for tx in action.block.transactions}
        self.mempool.remove_stale(senders, self.get_committed_nonce)

    def _on_committed(
        self, block: Block, certificate: CommitCertificate, receipts: Sequence[Receipt], started: int
    ) -> None:
        ours = sum(1 for transaction in block.transactions if transaction.id in self.mempool)
        self.admission.on_committed(ours, started)
        self.mempool.remove_committed(block.transactions)
        self._offer_ready({transaction.sender_address: None for transaction in block.transactions})
        log.info(
            "block_committed",
            height=block.height,
            transactions=len(block.transactions),
            view=certificate.view,
            latency_ms=max(0, started - block.header.timestamp_ms),
        )
        for listener in self._listeners:
            listener(block, certificate, receipts)

    def _on_fetched(self, peer: int, blocks: Fetched) -> None:
        self._run(self.replica.on_fetched(ValidatorIndex(peer), blocks, now_ms()))

    def _spawn(self, coroutine: Coroutine[Any, Any, None]) -> None:
        task = asyncio.ensure_future(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
