"""The status page at ``/`` and the network view it reads, ``GET /v1/network``.

The network view is this node's chain (recent blocks, transaction rate,
evidence) and every hub's own account of itself: this node's, read now, and
each peer's latest answer over the peer links (node/peer_status.py). The page
is rendered here in full, so it reads without JavaScript; a small script
(static/status.js) then refreshes it from ``/v1/network`` every second.
"""

from __future__ import annotations

import asyncio
import html
from collections import deque
from collections.abc import AsyncIterator, Iterable
from importlib import resources
from typing import Any

from aiohttp import web

from consensus.evidence import Evidence
from ledger.block import Block
from node.api.keys import NODE
from node.clock import now_ms
from node.peer_status import FRESH_MS_MAX, PEER_STATUS, PeerStatusBoard, get_own_status
from node.service import Node

RECENT_BLOCKS_MAX = 10
RATE_WINDOW_MS = 60_000
RATE_BLOCKS_MAX = 10_000  # blocks remembered for the rate; at most a minute's worth
EVIDENCE_SHOWN_MAX = 5
STATIC = resources.files("node.api") / "static"


def compute_network_view(node: Node, board: PeerStatusBoard, rate: CommitRate) -> dict[str, Any]:
    now = now_ms()
    own = get_own_status(node)
    peers = board.get_statuses()
    hubs = []
    for validator in node.genesis.validators:
        name = validator.name
        status = own if name == own.node else peers.get(name)
        entry: dict[str, Any] = {"name": name, "self": name == own.node, "reachable": False}
        if status is not None:
            entry.update(status.to_json(at_ms=now))
            entry["reachable"] = entry["age_ms"] <= FRESH_MS_MAX
        hubs.append(entry)
    return {
        "chain_id": node.genesis.chain_id,
        "node": own.node,
        "height": own.height,
        "view": own.view,
        "primary": own.primary,
        "generated_ms": now,
        "hubs": hubs,
        "recent_blocks": list(_list_recent_blocks(node)),
        "transactions_per_second": rate.compute_per_second(now),
        "evidence": {
            "count": node.evidence.count(),
            "recent": [Evidence.decode(data).to_json() for data in node.evidence.list(EVIDENCE_SHOWN_MAX)],
        },
    }


class CommitRate:
    """Transactions committed here in the last minute, by block timestamp, kept as blocks commit."""

    def __init__(self, node: Node) -> None:
        self._blocks: deque[tuple[int, int]] = deque(maxlen=RATE_BLOCKS_MAX)  # (timestamp_ms, transactions)
        node.add_commit_listener(self._on_commit)

    def _on_commit(self, block: Block, certificate: object, receipts: object) -> None:
        self._blocks.append((block.header.timestamp_ms, len(block.transactions)))

    def compute_per_second(self, at_ms: int) -> float:
        while self._blocks and self._blocks[0][0] < at_ms - RATE_WINDOW_MS:
            self._blocks.popleft()
        count = sum(transactions for _, transactions in self._blocks)
        return round(count * 1000 / RATE_WINDOW_MS, 2)


def _list_recent_blocks(node: Node) -> Iterable[dict[str, Any]]:
    names = [validator.name for validator in node.genesis.validators]
    latest = node.chain.latest_height()
    for height in range(latest, max(0, latest - RECENT_BLOCKS_MAX), -1):
        block = node.chain.get_block(height)
        if block is None:
            return
        header = block.header
        yield {
            "height": height,
            "hash": block.hash.hex(),
            "transactions": header.transaction_count,
            "view": header.view,
            "proposer": names[header.proposer] if header.proposer < len(names) else str(header.proposer),
            "timestamp_ms": header.timestamp_ms,
        }


async def get_network(request: web.Request) -> web.Response:
    return web.json_response(_compute_view(request))


def _compute_view(request: web.Request) -> dict[str, Any]:
    app = request.app
    return compute_network_view(app[NODE], app[PEER_STATUS], app[COMMIT_RATE])


async def get_page(request: web.Request) -> web.Response:
    view = _compute_view(request)
    return web.Response(text=render_page(view), content_type="text/html", charset="utf-8")


async def get_script(request: web.Request) -> web.Response:
    text = (STATIC / "status.js").read_text(encoding="utf-8")
    return web.Response(text=text, content_type="application/javascript", charset="utf-8")


def render_page(view: dict[str, Any]) -> str:
    template = (STATIC / "status.html").read_text(encoding="utf-8")
    evidence = view["evidence"]
    values = {
        "chain_id": view["chain_id"],
        "node": view["node"],
        "height": str(view["height"]),
        "view": str(view["view"]),
        "primary": view["primary"],
        "rate": f"{view['transactions_per_second']:.2f}",
        "evidence_count": str(evidence["count"]),
    }
    text = template
    for name, value in values.items():
        text = text.replace("{{" + name + "}}", html.escape(value))
    rows = {
        "hub_rows": "".join(_render_hub_row(hub, view["hubs"]) for hub in view["hubs"]),
        "block_rows": "".join(_render_block_row(block) for block in view["recent_blocks"]),
        "evidence_rows": "".join(_render_evidence_row(record) for record in evidence["recent"]),
    }
    for name, value in rows.items():
        text = text.replace("{{" + name + "}}", value)
    return text


def _render_hub_row(hub: dict[str, Any], hubs: list[dict[str, Any]]) -> str:
    name = hub["name"]
    state = _describe_hub(hub)
    links = []
    for other in hubs:
        if other["name"] == name:
            continue
        up = hub["reachable"] and other["name"] in hub.get("connected_peers", ())
        links.append(f'<span class="link {"up" if up else "down"}">{html.escape(other["name"])}</span>')
    cells = [
        f'<td class="name">{html.escape(name)}{" (this node)" if hub["self"] else ""}</td>',
        f'<td class="height">{hub.get("height", "?")}</td>',
        f'<td class="view">{hub.get("view", "?")}</td>',
        f'<td class="role">{"primary" if hub.get("primary") == name else "backup"}</td>',
        f'<td class="mempool">{hub.get("mempool_size", "?")}</td>',
        f'<td class="links">{"".join(links)}</td>',
        f'<td class="state {state}">{state}</td>',
    ]
    return f'<tr class="hub" data-hub="{html.escape(name)}">{"".join(cells)}</tr>'


def _describe_hub(hub: dict[str, Any]) -> str:
    if not hub["reachable"]:
        return "unreachable"
    return "catching-up" if hub.get("fetching") else "ok"


def _render_block_row(block: dict[str, Any]) -> str:
    cells = [
        str(block["height"]),
        html.escape(block["hash"][:16]),
        str(block["transactions"]),
        str(block["view"]),
        html.escape(block["proposer"]),
        f'<time data-ms="{block["timestamp_ms"]}"></time>',
    ]
    return "<tr>" + "".join(f"<td>{cell}</td>" for cell in cells) + "</tr>"


def _render_evidence_row(record: dict[str, Any]) -> str:
    cells = [
        str(record["validator"]),
        html.escape(str(record["kind"])),
        str(record["view"]),
        str(record["height"]),
    ]
    return "<tr>" + "".join(f"<td>{cell}</td>" for cell in cells) + "</tr>"


COMMIT_RATE = web.AppKey("commit_rate", CommitRate)


def add_status_routes(app: web.Application, node: Node) -> None:
    """Routes of the page and the network view, and the peer status board with its poller."""
    board = PeerStatusBoard(node)
    app[PEER_STATUS] = board
    app[COMMIT_RATE] = CommitRate(node)

    async def poll_peers(app: web.Application) -> AsyncIterator[None]:
        task = asyncio.create_task(board.poll_forever(), name="peer-status-poll")
        yield
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)

    app.cleanup_ctx.append(poll_peers)
    app.router.add_get("/", get_page)
    app.router.add_get("/static/status.js", get_script)
    app.router.add_get("/v1/network", get_network)
