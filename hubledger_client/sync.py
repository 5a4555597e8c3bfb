"""The client for scripts that are not async: every call blocks, on an event loop of its own."""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Iterator, Sequence
from types import TracebackType
from typing import Any

from hubledger_client.client import Client


class SyncClient:
    """A blocking wrapper of Client for scripts; one event loop per instance.

    with SyncClient("https://127.0.0.1:8101") as client:
        print(client.get_status()["height"])
        for event in client.follow_events(from_height=1, reconnect=False):
            print(event["type"], event["height"])
    """

    def __init__(
        self,
        base_url: str | Sequence[str],
        *,
        timeout_ms: int = 10_000,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        self._loop = asyncio.new_event_loop()
        self._client = Client(base_url, timeout_ms=timeout_ms, ssl_context=ssl_context)

    def __enter__(self) -> SyncClient:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.close()

    def follow_events(
        self, *, from_height: int | None = None, account: str | None = None, reconnect: bool = True
    ) -> Iterator[dict[str, Any]]:
        """Client.follow_events as a plain iterator; leaving the loop closes the stream."""
        events = self._client.follow_events(from_height=from_height, account=account, reconnect=reconnect)
        try:
            while True:
                try:
                    yield self._loop.run_until_complete(events.__anext__())
                except StopAsyncIteration:
                    return
        finally:
            if not self._loop.is_closed():
                self._loop.run_until_complete(events.aclose())

    def __getattr__(self, name: str) -> Any:
        method = getattr(self._client, name)

        def call(*args: Any, **kwargs: Any) -> Any:
            return self._loop.run_until_complete(method(*args, **kwargs))

        return call

    def close(self) -> None:
        if self._loop.is_closed():
            return
        self._loop.run_until_complete(self._client.close())
        self._loop.close()
