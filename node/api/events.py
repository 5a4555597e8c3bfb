"""GET /v1/events: committed blocks and transaction receipts over a WebSocket, as they happen.

Theory of operation. A subscriber never gets a copy of anything: it reads
the chain store. It sends every height from ``from_height`` up to the latest
committed one, then sleeps until the commit listener says the chain grew,
and goes on. Replay and live delivery are the same loop, so nothing is
skipped or sent twice, and a slow client only falls behind (memory stays
bounded: nothing queues per subscriber but one event flag).

For each height the receipts come first (one ``receipt`` message per
transaction, only those involving ``account`` when it is given), then one
``block`` message that closes the height. A client that reconnects with
``from_height`` = the last block message's height + 1 misses nothing.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import structlog
from aiohttp import WSMsgType, web

from ledger.block import Block
from ledger.certificate import CommitCertificate
from ledger.receipt import Receipt
from ledger.types import Height
from node.errors import ApiError
from node.service import Node
from storage.errors import BlockPruned

SUBSCRIBERS_MAX = 256
HEARTBEAT_S = 20.0
ADDRESS_HEX_CHARS = 40

log = structlog.get_logger("hubledger.node")


class EventHub:
    """Wakes every subscriber when a block is committed; counts them against SUBSCRIBERS_MAX."""

    def __init__(self, node: Node, *, subscribers_max: int = SUBSCRIBERS_MAX) -> None:
        self._node = node
        self._subscribers_max = subscribers_max
        self._wakers: set[asyncio.Event] = set()
        node.add_commit_listener(self._on_commit)

    @property
    def subscriber_count(self) -> int:
        return len(self._wakers)

    def _on_commit(self, block: Block, certificate: CommitCertificate, receipts: Any) -> None:
        for waker in self._wakers:
            waker.set()

    async def serve(self, request: web.Request) -> web.WebSocketResponse:
        from_height, account = parse_event_query(request, self._node.chain.latest_height())
        if from_height < self._node.chain.first_block_height():  # asked before ws.prepare: a 410
            raise BlockPruned(from_height, self._node.chain.first_block_height())
        if len(self._wakers) >= self._subscribers_max:
            raise ApiError(503, "BUSY", f"{self._subscribers_max} event subscribers already; retry later")
        ws = web.WebSocketResponse(heartbeat=HEARTBEAT_S)
        await ws.prepare(request)
        waker = asyncio.Event()
        self._wakers.add(waker)
        reader: asyncio.Future[object] = asyncio.ensure_future(_drain(ws))
        try:
            await self._stream(ws, waker, reader, from_height, account)
        except ConnectionResetError:
            pass  # the client went away mid-send
        finally:
            self._wakers.discard(waker)
            reader.cancel()
            await asyncio.gather(reader, return_exceptions=True)
            await ws.close()
        return ws

    async def _stream(
        self,
        ws: web.WebSocketResponse,
        waker: asyncio.Event,
        reader: asyncio.Future[object],
        next_height: int,
        account: str | None,
    ) -> None:
        chain = self._node.chain
        while not ws.closed and not reader.done():
            waker.clear()
            while next_height <= chain.latest_height() and not ws.closed:
                if next_height < chain.first_block_height():  # a slow reader, outrun by pruning
                    error = BlockPruned(next_height, chain.first_block_height())
                    await ws.send_json({"type": "error", "code": error.code, "message": error.message})
                    return
                for message in compute_height_events(self._node, Height(next_height), account):
                    await ws.send_json(message)
                next_height += 1
            wake: asyncio.Future[object] = asyncio.ensure_future(waker.wait())
            await asyncio.wait([wake, reader], return_when=asyncio.FIRST_COMPLETED)
            wake.cancel()


async def _drain(ws: web.WebSocketResponse) -> None:
    """Read (and ignore) what the client sends, so pings are answered and a close is noticed."""
    async for message in ws:
        if message.type is WSMsgType.ERROR:
            return


def parse_event_query(request: web.Request, latest: int) -> tuple[int, str | None]:
    text = request.query.get("from_height")
    if text is None:
        from_height = latest + 1
    elif text.isdigit() and len(text) <= 19 and int(text) >= 1:
        from_height = int(text)
    else:
        raise ApiError(400, "BAD_IDENTIFIER", "from_height must be a whole number of at least 1")
    account = request.query.get("account")
    if account is not None:
        account = account.lower()
        if len(account) != ADDRESS_HEX_CHARS or any(c not in "0123456789abcdef" for c in account):
            raise ApiError(400, "BAD_IDENTIFIER", "account must be an address: 40 hex characters")
    return from_height, account


def compute_height_events(node: Node, height: Height, account: str | None) -> Iterator[dict[str, Any]]:
    """The receipt messages of block ``height`` (those involving ``account``), then its block message."""
    block = node.chain.get_block(height)
    certificate = node.chain.get_certificate(height)
    if block is None or certificate is None:
        raise RuntimeError(f"block {height} is below the latest height but missing from the chain store")
    for index, transaction in enumerate(block.transactions):
        record = node.chain.get_transaction(transaction.id)
        if record is None:
            raise RuntimeError(f"transaction {transaction.id.hex()} of block {height} has no receipt")
        sender = transaction.sender_address.hex()
        if account is None or is_involved(account, sender, transaction.args, record.receipt):
            yield {
                "type": "receipt",
                "height": height,
                "index": index,
                "id": transaction.id.hex(),
                "sender": sender,
                "transaction": transaction.to_json(),
                "receipt": record.receipt.to_json(),
            }
    yield {
        "type": "block",
        "height": height,
        "hash": block.hash.hex(),
        "header": block.header.to_json(),
        "transaction_count": len(block.transactions),
        "certificate": certificate.to_json(),
    }


def is_involved(account: str, sender: str, args: Any, receipt: Receipt) -> bool:
    """The account sent the transaction, or an argument or an event of its receipt names it."""
    if sender == account or _names(account, args):
        return True
    return any(_names(account, event.attributes) for event in receipt.events)


def _names(account: str, value: Any) -> bool:
    if isinstance(value, str):
        return value.lower() == account
    if isinstance(value, bytes):
        return value.hex() == account
    if isinstance(value, dict):
        return any(_names(account, item) for item in value.values())
    if isinstance(value, (list, tuple)):
        return any(_names(account, item) for item in value)
    return False


EVENTS = web.AppKey("events", EventHub)


async def get_events(request: web.Request) -> web.WebSocketResponse:
    return await request.app[EVENTS].serve(request)
