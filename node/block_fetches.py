"""The replica's block fetches (state transfer), run against its peers, or held while a join
from a snapshot is being decided (node/snapshot_sync.py): replaying from genesis would only
race it."""

from __future__ import annotations

from collections.abc import Callable, Coroutine, Sequence
from typing import Any

import structlog

from consensus.actions import Fetch
from ledger.block import Block
from ledger.certificate import CommitCertificate
from ledger.types import Height
from node.state_transfer import BlockFetcher, log_fetch_failure

log = structlog.get_logger("hubledger.node")

Fetched = Sequence[tuple[Block, CommitCertificate]]


class BlockFetches:
    def __init__(
        self,
        fetcher: BlockFetcher,
        names: Sequence[str],
        on_fetched: Callable[[int, Fetched], None],
        spawn: Callable[[Coroutine[Any, Any, None]], None],
    ) -> None:
        self._fetcher = fetcher
        self._names = names
        self._on_fetched = on_fetched
        self._spawn = spawn
        self.in_flight = 0
        self._held: list[Fetch] | None = None

    def start(self, fetch: Fetch) -> None:
        if self._held is not None:
            self._held.append(fetch)  # a join from a snapshot may make it moot
        else:
            self._spawn(self._fetch(fetch.peer, fetch.from_height, fetch.to_height))

    def hold(self) -> None:
        """Keep every fetch until ``release``."""
        if self._held is None:
            self._held = []

    def release(self) -> None:
        held, self._held = self._held or [], None
        for fetch in held:
            self.start(fetch)

    def forget_held(self) -> None:
        """Drop the fetches held for a replica that is being replaced: the new one asks anew."""
        if self._held:
            self._held.clear()

    def close(self) -> None:
        self._fetcher.close()

    async def _fetch(self, peer: int, first: Height, last: Height) -> None:
        blocks: Fetched = ()
        name = self._names[peer]
        self.in_flight += 1
        try:
            blocks = await self._fetcher.fetch(peer, first, last)
        except Exception as error:  # any failure of a peer is the peer's: the replica asks another
            log_fetch_failure(name, error)
        finally:
            self.in_flight -= 1
        if blocks:
            log.info(
                "state_transfer",
                peer=name,
                from_height=blocks[0][0].height,
                to_height=blocks[-1][0].height,
                blocks=len(blocks),
                target_height=last,
            )
        self._on_fetched(peer, blocks)
