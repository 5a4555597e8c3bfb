"""Commit times from the committed blocks: read each new block of one hub as soon as it exists.

The follower asks for the next height over and over (a missing block answers
404 at once, which costs a node little) and pauses ``poll_ms`` between misses,
so a commit time is late by at most ``poll_ms`` plus one request. It does not
depend on the WebSocket event stream.
"""

from __future__ import annotations

import asyncio
import json
import time

import aiohttp

from hubledger_tools.bench.timeline import Block, Timeline

POLL_MS_DEFAULT = 5


class BlockFollower:
    def __init__(
        self, session: aiohttp.ClientSession, url: str, timeline: Timeline, *, poll_ms: int = POLL_MS_DEFAULT
    ) -> None:
        self._session = session
        self._url = url
        self._timeline = timeline
        self._poll_s = poll_ms / 1000
        self.next_height = 1
        self.errors = 0

    async def start_at_latest(self) -> None:
        async with self._session.get(self._url + "/v1/status") as response:
            status = await response.json()
        self.next_height = int(status["height"]) + 1

    async def run(self) -> None:
        """Follow blocks until cancelled."""
        while True:
            try:
                found = await self._read_next()
            except (aiohttp.ClientError, TimeoutError, ValueError, KeyError):
                self.errors += 1
                found = False
            if not found:
                await asyncio.sleep(self._poll_s)

    async def _read_next(self) -> bool:
        async with self._session.get(f"{self._url}/v1/blocks/{self.next_height}") as response:
            observed_s = time.monotonic()  # the block exists once the answer starts, whatever its size
            if response.status == 404:
                return False
            data = await response.read()
            if response.status != 200:
                raise ValueError(f"block {self.next_height} answered {response.status}")
        document = json.loads(data)
        header = document["header"]
        ids = [transaction["id"] for transaction in document["transactions"]]
        block = Block(
            height=self.next_height,
            observed_s=observed_s,
            timestamp_ms=int(header["timestamp_ms"]),
            transaction_count=int(header["transaction_count"]),
            response_bytes=len(data),
        )
        self._timeline.on_block(block, ids)
        self.next_height += 1
        return True
