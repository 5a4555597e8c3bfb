"""Prometheus metrics of one node, in its own registry, named hubledger_* in base units.

Two kinds of numbers. What happens at a commit (latency, size, transactions)
is observed by a commit listener into histograms and counters. Everything
else (height, view, peers, p2p traffic, drops, mempool, evidence, supply) is
read from the node when Prometheus scrapes, by one collector, so there is no
second copy of any state to keep in step. Counters that the node keeps in
memory start again from zero when it restarts, as Prometheus expects.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, cast

from prometheus_client import CollectorRegistry, Histogram, disable_created_metrics, generate_latest
from prometheus_client import Counter as CounterMetric
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from contracts.queries import get_locked_in_escrow, get_total_supply
from ledger.block import Block
from ledger.certificate import CommitCertificate, compute_quorum
from ledger.receipt import Receipt
from node.client_signatures import ClientSignatures
from node.clock import now_ms
from p2p.observer_links import ObserverEndpoint

if TYPE_CHECKING:
    from node.service import Node

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
LATENCY_BUCKETS_S = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
BLOCK_BYTES_BUCKETS = (512, 2_048, 8_192, 32_768, 131_072, 524_288, 2_097_152, 4_194_304)
BLOCK_TRANSACTIONS_BUCKETS = (1, 2, 5, 10, 25, 50, 100, 250, 500, 1_000, 2_000)


class NodeMetrics:
    """The registry behind GET /metrics; create one per node, after the node."""

    def __init__(self, node: Node, signatures: ClientSignatures | None = None) -> None:
        # *_created series only clutter the text format (the function is untyped upstream)
        cast(Callable[[], None], disable_created_metrics)()
        self.registry = CollectorRegistry(auto_describe=False)
        self._latency = Histogram(
            "hubledger_block_commit_latency_seconds",
            "Time from the primary stamping a block to this node committing it.",
            buckets=LATENCY_BUCKETS_S,
            registry=self.registry,
        )
        self._block_bytes = Histogram(
            "hubledger_block_size_bytes",
            "Encoded size of committed blocks.",
            buckets=BLOCK_BYTES_BUCKETS,
            registry=self.registry,
        )
        self._block_transactions = Histogram(
            "hubledger_block_transactions",
            "Transactions in each committed block.",
            buckets=BLOCK_TRANSACTIONS_BUCKETS,
            registry=self.registry,
        )
        self._transactions = CounterMetric(
            "hubledger_transactions_committed",
            "Transactions committed since the node started, by outcome.",
            ["outcome"],
            registry=self.registry,
        )
        self._blocks = CounterMetric(
            "hubledger_blocks_committed", "Blocks committed since the node started.", registry=self.registry
        )
        self.api_tls_refused = CounterMetric(
            "hubledger_api_tls_refused",
            "Connections to the client API refused at the TLS handshake (plaintext, another CA, "
            "a revoked or expired client certificate...), by reason.",
            ["reason"],
            registry=self.registry,
        )
        self.api_connections_refused = CounterMetric(
            "hubledger_api_connections_refused",
            "Connections to the client API closed at once because their address, or the API, "
            "held as many as it may (node/edge.py), by reason.",
            ["reason"],
            registry=self.registry,
        )
        self.api_requests_limited = CounterMetric(
            "hubledger_api_requests_limited",
            "Requests answered 429 TOO_MANY_REQUESTS: their client address was past its budget.",
            registry=self.registry,
        )
        self.registry.register(NodeCollector(node))
        if signatures is not None:
            self.registry.register(SignatureCollector(signatures))
        node.add_commit_listener(self.on_commit)

    def on_commit(self, block: Block, certificate: CommitCertificate, receipts: Sequence[Receipt]) -> None:
        self._latency.observe(max(0, now_ms() - block.header.timestamp_ms) / 1000)
        self._block_bytes.observe(len(block.encode()))
        self._block_transactions.observe(len(block.transactions))
        self._blocks.inc()
        succeeded = sum(1 for receipt in receipts if receipt.success)
        if succeeded:
            self._transactions.labels(outcome="success").inc(succeeded)
        if len(receipts) > succeeded:
            self._transactions.labels(outcome="failure").inc(len(receipts) - succeeded)

    def render(self) -> bytes:
        return generate_latest(self.registry)


class NodeCollector(Collector):
    """Reads the node's current numbers at every scrape."""

    def __init__(self, node: Node) -> None:
        self._node = node

    def collect(self) -> Iterator[Metric]:
        yield from self._collect_chain()
        yield from self._collect_network()
        yield from self._collect_settlement()

    def _collect_chain(self) -> Iterator[Metric]:
        node = self._node
        status = node.replica.get_status()
        yield _gauge(
            "hubledger_chain_height", "Height of the latest committed block.", node.chain.latest_height()
        )
        yield _gauge("hubledger_view", "Current PBFT view.", status.view)
        yield _gauge(
            "hubledger_is_primary", "1 when this node is the primary of its view.", int(status.is_primary)
        )
        yield _gauge(
            "hubledger_stable_checkpoint_height",
            "Height of the latest stable checkpoint.",
            status.stable_checkpoint,
        )
        yield _counter("hubledger_view_changes", "View changes this node took part in.", status.view_changes)
        yield _counter(
            "hubledger_state_transfers", "State transfers started to catch up.", status.state_transfers
        )
        liveness = CounterMetricFamily(
            "hubledger_liveness_events",
            "Liveness rules that fired: own votes re-sent, timers found late (the process was paused), "
            "primaries suspected as slow.",
            labels=["event"],
        )
        liveness.add_metric(["votes_resent"], status.retransmits)
        liveness.add_metric(["timer_late"], status.resumed_late)
        liveness.add_metric(["slow_primary"], status.slow_primaries)
        yield liveness
        yield _gauge(
            "hubledger_state_transfer_in_progress",
            "Block fetches from peers now in flight.",
            node.fetches.in_flight,
        )
        yield _gauge(
            "hubledger_mempool_transactions", "Transactions waiting in the mempool.", len(node.mempool)
        )
        yield _counter(
            "hubledger_evidence_recorded",
            "Equivocation evidence stored (conflicting signed messages).",
            node.evidence.count(),
        )
        dropped = CounterMetricFamily(
            "hubledger_messages_dropped", "Messages dropped, by layer and reason.", labels=["layer", "reason"]
        )
        for reason, count in sorted(status.dropped.items()):
            dropped.add_metric(["consensus", reason], count)
        for reason, count in sorted(_sum_peer_counters(node.network.get_stats(), "dropped").items()):
            dropped.add_metric(["p2p", reason], count)
        yield dropped

    def _collect_network(self) -> Iterator[Metric]:
        node = self._node
        names = [validator.name for validator in node.genesis.validators]
        yield _gauge(
            "hubledger_peers_connected", "Other validators linked now.", len(node.network.connected_peers())
        )
        yield _gauge("hubledger_validators", "Validators in genesis.", len(names))
        yield _gauge(
            "hubledger_quorum",
            "Validators, this one included, that must vote to commit.",
            compute_quorum(len(names)),
        )
        messages = CounterMetricFamily(
            "hubledger_p2p_messages",
            "Consensus messages, by direction and type.",
            labels=["direction", "type"],
        )
        payload = CounterMetricFamily(
            "hubledger_p2p_bytes",
            "Consensus message payload bytes, by direction and type.",
            labels=["direction", "type"],
        )
        traffic = node.traffic
        for key in sorted(traffic.messages):
            messages.add_metric(list(key), traffic.messages[key])
            payload.add_metric(list(key), traffic.payload_bytes[key])
        yield messages
        yield payload
        stats = node.network.get_stats()
        yield from _collect_peer_links(stats, names)
        refused = CounterMetricFamily(
            "hubledger_p2p_handshakes_refused",
            "Connections to the peer endpoint refused before or during the handshake, by reason.",
            labels=["reason"],
        )
        reasons = stats.get("handshakes_refused", {})
        if not isinstance(reasons, Mapping):
            raise TypeError("PeerNetwork.get_stats() handshakes_refused must be a mapping")
        for reason, count in sorted(reasons.items()):
            refused.add_metric([str(reason)], int(count))
        yield refused
        yield from _collect_observer_links(node.observers)

    def _collect_settlement(self) -> Iterator[Metric]:
        state = self._node.application.committed_state
        yield _gauge(
            "hubledger_cbdc_total_supply_fen",
            "Central-bank money issued and not redeemed.",
            get_total_supply(state),
        )
        yield _gauge(
            "hubledger_cbdc_locked_in_escrow_fen",
            "Central-bank money held in open escrows.",
            get_locked_in_escrow(state),
        )


def _collect_observer_links(observers: ObserverEndpoint) -> Iterator[Metric]:
    """Observers' read-only links (p2p/observer_links.py): what they sent that was refused."""
    yield _gauge("hubledger_observers_connected", "Observers linked to this hub now.", observers.linked)
    yield _labelled_counter(
        "hubledger_observer_messages_refused",
        "Frames an observer sent that are not questions (a consensus message, a response...): dropped "
        "unread, by observer and reason.",
        ["observer", "reason"],
        observers.refused.items(),
    )
    yield _labelled_counter(
        "hubledger_observer_links_refused",
        "Connections to /p2p/observer refused: a certificate that names no observer, too many observers, "
        "or too many links of one observer.",
        ["reason"],
        [((reason,), count) for reason, count in observers.links_refused.items()],
    )
    yield _labelled_counter(
        "hubledger_observer_requests_failed",
        "Observers' requests answered with an error code (a request an observer may not make, a bad "
        "request...), by observer and code; OBSERVER_RATE_LIMITED refusals count as refused messages.",
        ["observer", "code"],
        observers.failed.items(),
    )


def _collect_peer_links(stats: Mapping[str, object], names: Sequence[str]) -> Iterator[Metric]:
    """Frames and bytes on each peer link, and whether it is up, as p2p counts them."""
    frames = CounterMetricFamily(
        "hubledger_p2p_link_frames",
        "Frames on each peer link, by peer and direction.",
        labels=["peer", "direction"],
    )
    link_bytes = CounterMetricFamily(
        "hubledger_p2p_link_bytes",
        "Payload bytes on each peer link, by peer and direction.",
        labels=["peer", "direction"],
    )
    up = GaugeMetricFamily("hubledger_p2p_link_up", "1 when the link to the peer is up.", labels=["peer"])
    peers = stats.get("peers", {})
    if not isinstance(peers, dict):
        raise TypeError("PeerNetwork.get_stats() peers must be a mapping")
    for index, peer in sorted(peers.items()):
        name = names[index]
        for direction in ("sent", "received"):
            frames.add_metric([name, direction], peer[f"messages_{direction}"])
            link_bytes.add_metric([name, direction], peer[f"bytes_{direction}"])
        up.add_metric([name], int(bool(peer["connected"])))
    yield frames
    yield link_bytes
    yield up


def _sum_peer_counters(stats: Mapping[str, object], field: str) -> Counter[str]:
    total: Counter[str] = Counter()
    peers = stats.get("peers", {})
    if isinstance(peers, dict):
        for peer in peers.values():
            total.update(peer.get(field, {}))
    return total


class SignatureCollector(Collector):
    """Client signatures checked off the event loop (node/client_signatures.py), by outcome."""

    def __init__(self, signatures: ClientSignatures) -> None:
        self._signatures = signatures

    def collect(self) -> Iterator[Metric]:
        family = CounterMetricFamily(
            "hubledger_client_signatures",
            "Client submissions' signatures: valid, bad, unchecked (the address's budget was spent), "
            "and requests refused 429.",
            labels=["outcome"],
        )
        for outcome in ("valid", "bad", "unchecked", "refused"):
            family.add_metric([outcome], self._signatures.counts[outcome])
        yield family


def _gauge(name: str, documentation: str, value: float) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, documentation, value=value)


def _labelled_counter(
    name: str, documentation: str, labels: list[str], counts: Iterable[tuple[Sequence[str], int]]
) -> CounterMetricFamily:
    family = CounterMetricFamily(name, documentation, labels=labels)
    for values, count in sorted(counts):
        family.add_metric(list(values), count)
    return family


def _counter(name: str, documentation: str, value: float) -> CounterMetricFamily:
    return CounterMetricFamily(name, documentation, value=value)
