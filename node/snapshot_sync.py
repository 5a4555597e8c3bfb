"""State snapshots in the running node: taking and serving them, and joining from one at start.

Taking. After each commit that moves the chain past a multiple of
``[snapshots] interval`` the node keeps a read view of its store at that height
(storage/snapshots.py; a replayed answer commits many blocks in one batch, so the
snapshot is of the batch's last block, the first height the store really was at).
A committed block is final, so any committed height is a stable checkpoint. At
start a store that holds blocks takes one at once, so a restarted hub offers too.

Joining. At start, once f + 1 peers are linked (or ``join_wait_ms`` passed), the
node asks its peers for offers (node/snapshot_join.py). When its store was empty,
or an offer is more than ``join_lag_blocks`` above its height, it fetches and
verifies the best certified snapshot. An empty store's replica holds its block
fetches until then (a replay from genesis would only race the join); a store that
holds blocks goes on replaying meanwhile (if that overtakes the snapshot, the
snapshot is dropped). Then, in one synchronous step, so no commit can come
between, it writes the snapshot as the store's base in one batch and starts a new
replica from it, which replays only the blocks after it by ordinary state transfer.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator, Sequence

import structlog
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from ledger.block import Block
from ledger.certificate import CommitCertificate, compute_faults_max
from ledger.receipt import Receipt
from node.config_sections import SnapshotsSection
from node.service import Node
from node.snapshot_join import JoinedSnapshot, JoinProgress, SnapshotJoiner
from node.snapshot_protocol import CHUNK_KIND, OFFERS_KIND, SnapshotServer
from storage.errors import StorageError
from storage.snapshots import SnapshotKeeper, build_base_batch

log = structlog.get_logger("hubledger.snapshots")


class SnapshotService:
    """Create before ``node.start()`` (it answers peers from then on), call ``start`` after."""

    def __init__(self, node: Node, settings: SnapshotsSection) -> None:
        self._node = node
        self._settings = settings
        self.keeper = SnapshotKeeper(settings.keep)
        self.server = SnapshotServer(self.keeper)
        self.progress = JoinProgress()
        self.join_seconds = 0.0
        self._started_empty = node.chain.latest_height() == 0
        self._task: asyncio.Task[None] | None = None
        node.add_request_handler(OFFERS_KIND, self.server.handle_offers)
        node.add_request_handler(CHUNK_KIND, self.server.handle_chunk)
        node.add_commit_listener(self._on_commit)
        if settings.join and self._started_empty:
            node.hold_fetches()  # until the join is decided: replaying from genesis would only race it

    def start(self) -> None:
        latest = self._node.chain.latest_height()
        if self._settings.interval and latest > self._node.chain.base_height():
            self._take(latest)
        if self._settings.join:
            self._task = asyncio.create_task(self._join_if_behind(), name="snapshot-join")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        self.keeper.close()

    def _on_commit(self, block: Block, certificate: CommitCertificate, receipts: Sequence[Receipt]) -> None:
        interval = self._settings.interval
        latest = self._node.chain.latest_height()
        if not interval or block.height != latest:  # not the last block of its batch
            return
        newest = max((offer.height for offer in self.keeper.offers()), default=0)
        if latest // interval > newest // interval:
            self._take(latest)

    def _take(self, height: int) -> None:
        chain = self._node.chain
        try:
            self.keeper.take(self._node.kv, height=height, state_root=chain.get_state_root(height))
        except StorageError as error:
            log.warning("snapshot_not_taken", height=height, reason=error.message)
            return
        log.info("snapshot_taken", height=height)

    async def _join_if_behind(self) -> None:
        try:
            await self._join()
        finally:
            self._node.release_fetches()

    async def _join(self) -> None:
        node = self._node
        await self._wait_for_links()
        started = time.monotonic()
        joiner = SnapshotJoiner(node.network, node.genesis, self.progress)
        offers = await joiner.collect_offers(node.network.connected_peers())
        latest = node.chain.latest_height()
        best = max((offer.height for found in offers.values() for offer in found), default=0)
        if not (self._started_empty or best - latest > self._settings.join_lag_blocks) or best <= latest:
            self.progress.state = "not_needed"
            log.info("snapshot_join_not_needed", height=latest, best_offer=best)
            return
        joined = await joiner.join(offers, above=latest)
        if joined is not None:
            self._install(joined, started)

    async def _wait_for_links(self) -> None:
        network = self._node.network
        needed = compute_faults_max(len(self._node.genesis.validators)) + 1
        deadline = time.monotonic() + self._settings.join_wait_ms / 1000
        while len(network.connected_peers()) < needed and time.monotonic() < deadline:
            await asyncio.sleep(0.05)

    def _install(self, joined: JoinedSnapshot, started: float) -> None:
        """Write the snapshot as the store's base and restart the replica on it: no await in here."""
        node, height = self._node, joined.header.height
        if node.chain.latest_height() >= height:  # the replay got there first: nothing to gain
            self.progress.state = "not_needed"
            log.info("snapshot_join_overtaken", height=height, latest=node.chain.latest_height())
            return
        batch = build_base_batch(node.kv, joined.header, joined.certificate, joined.chunks)
        node.chain.install_base(batch)
        node.restart_replica()
        self.progress.state = "installed"
        self.join_seconds = time.monotonic() - started
        pairs = sum(len(chunk) for chunk in joined.chunks)
        names = [node.genesis.validators[peer].name for peer in joined.sources]
        log.info(
            "snapshot_joined", height=height, records=pairs, peers=names, seconds=round(self.join_seconds, 3)
        )
        self._take(height)


class SnapshotCollector(Collector):
    """hubledger_snapshot_* metrics, read at every scrape."""

    def __init__(self, service: SnapshotService, node: Node) -> None:
        self._service = service
        self._node = node

    def collect(self) -> Iterator[Metric]:
        progress = self._service.progress
        yield GaugeMetricFamily(
            "hubledger_chain_first_block_height",
            "Lowest height whose block body this hub stores (above the snapshot it joined from).",
            value=self._node.chain.first_block_height(),
        )
        yield GaugeMetricFamily(
            "hubledger_snapshot_joined_height",
            "Height of the snapshot this hub joined from; 0: none.",
            value=progress.height if progress.state == "installed" else 0,
        )
        yield GaugeMetricFamily(
            "hubledger_snapshot_join_seconds",
            "Time the join from a snapshot took, offers to installed.",
            value=self._service.join_seconds,
        )
        offers = self._service.keeper.offers()
        yield GaugeMetricFamily(
            "hubledger_snapshot_offered_height",
            "Height of the newest snapshot this hub offers; 0: none.",
            value=offers[0].height if offers else 0,
        )
        for name, value, text in (
            ("fetched", progress.chunks_fetched, "Snapshot chunks received from peers while joining."),
            (
                "verified",
                progress.chunks_verified,
                "Snapshot chunks that verified against the certified root.",
            ),
            ("served", self._service.server.chunks_served, "Snapshot chunks served to joining peers."),
        ):
            yield CounterMetricFamily(f"hubledger_snapshot_chunks_{name}", text, value=value)
        bad = CounterMetricFamily(
            "hubledger_snapshot_bad_chunks",
            "Snapshot chunks a peer sent that failed to decode or verify.",
            labels=["peer"],
        )
        missing = CounterMetricFamily(
            "hubledger_snapshot_missing_chunks",
            "Snapshot chunks a peer did not serve (error, timeout).",
            labels=["peer"],
        )
        for family, counts in ((bad, progress.bad_chunks), (missing, progress.missing_chunks)):
            for peer, count in sorted(counts.items()):
                family.add_metric([peer], count)
            yield family
