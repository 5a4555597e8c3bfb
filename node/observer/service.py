"""The observer node: a chain store fed by the Follower, read by the client API's read routes.

It holds no validator key and runs no replica, so it has nothing to vote
with; it opens no peer listener either, only read-only links it dials to the
hubs of [p2p] peers with its own TLS certificate (``hubledger://observer/<name>``).
Blocks reach its LevelDB only through node/observer/follower.py, by the same
LedgerApplication validators commit through. The attributes the read routes
use (config, genesis, chain, application, mempool, add_commit_listener) are
named as on node.service.Node, so those routes serve both.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from pathlib import Path

import aiohttp
import structlog

from contracts.genesis import compute_genesis_changes
from ledger.block import Block
from ledger.certificate import CommitCertificate
from ledger.genesis import Genesis
from ledger.receipt import Receipt
from node.application import LedgerApplication
from node.clock import now_ms
from node.config_sections import NodeConfig
from node.mempool import Mempool
from node.observer.alerts import TamperAlerts
from node.observer.follower import CommitListener, Follower
from node.tls_setup import get_tls_files
from p2p.observer_links import HubLink
from p2p.tls import make_client_context
from storage.chain import ChainStore
from storage.kv import LevelDBStore

log = structlog.get_logger("hubledger.observer")


class ObserverNode:
    def __init__(self, config: NodeConfig, genesis: Genesis) -> None:
        self.config = config
        self.genesis = genesis
        self.kv = LevelDBStore.open(Path(config.node.data_dir))
        self.chain = ChainStore(self.kv)
        genesis_changes = compute_genesis_changes(genesis)
        self.chain.initialize(genesis.hash, genesis_changes)
        self.application = LedgerApplication(chain=self.chain, chain_id=genesis.chain_id)
        self.mempool = Mempool(transactions_max=1, nonce_window=1)  # stays empty: nothing is submitted here
        self.alerts = TamperAlerts()
        self._listeners: list[CommitListener] = []
        self._session: aiohttp.ClientSession | None = None
        self._task: asyncio.Task[None] | None = None
        self.follower: Follower | None = None
        self.started_ms = now_ms()

    def add_commit_listener(self, listener: CommitListener) -> None:
        self._listeners.append(listener)

    async def start(self) -> None:
        self._session = aiohttp.ClientSession()
        context = make_client_context(get_tls_files(self.config))
        links = [
            HubLink(hub, url, self._session, context) for hub, url in sorted(self.config.p2p.peers.items())
        ]
        self.follower = Follower(
            genesis=self.genesis,
            chain=self.chain,
            application=self.application,
            links=links,
            alerts=self.alerts,
            on_commit=self._on_committed,
            poll_interval_ms=self.config.observer.poll_interval_ms,
            request_timeout_ms=self.config.observer.request_timeout_ms,
        )
        self._task = asyncio.create_task(self.follower.follow_forever(), name="observer-follow")
        log.info(
            "observer_started",
            observer=self.config.node.name,
            height=self.chain.latest_height(),
            hubs=[link.hub for link in links],
        )

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        if self.follower is not None:
            await self.follower.close()
        if self._session is not None:
            await self._session.close()
        height = self.chain.latest_height()
        self.kv.close()
        log.info("observer_stopped", height=height)

    def _on_committed(
        self, block: Block, certificate: CommitCertificate, receipts: Sequence[Receipt]
    ) -> None:
        log.info(
            "block_verified", height=block.height, transactions=len(block.transactions), view=certificate.view
        )
        for listener in self._listeners:
            listener(block, certificate, receipts)
