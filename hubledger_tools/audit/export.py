"""``hubledger export``: blocks with their commit certificates, from a node to a file.

The file is JSON Lines. The first line says what it is:

    {"format": "hubledger-chain-export", "version": 2, "chain_id": ..., "from_height": 1,
     "to_height": 120, "node": "beijing"}

and every next line is one block, in height order:

    {"height": 1, "header": {...}, "transactions": [{...}, ...], "certificate": {...}}

with the header, transactions and certificate as the client API shows them
(byte strings in hex). Nothing derived (hashes, ids) is written: the
verifier recomputes everything from what was signed.

A hub that prunes (``[storage] keep_blocks``) holds block bodies from some height P
only (``first_block_height`` in the first line). Its export from genesis is then, in
order: ``{"height", "header", "certificate"}`` for blocks 1..P-1, the state after block
P-1 as ``{"state": [[key hex, value hex], ...]}`` lines (from the operator endpoint
``GET /v1/admin/state``, so it needs the admin token and operator certificate), and the
whole blocks from P. The verifier checks the headers and certificates from genesis, the
state against block P-1's certified state root, and re-executes from P.
"""

from __future__ import annotations

import asyncio
import json
import ssl
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from hubledger_client.client import Client
from hubledger_tools.admin_http import open_admin_stream
from hubledger_tools.audit.progress import Progress

EXPORT_FORMAT = "hubledger-chain-export"
EXPORT_VERSION = 2  # 2: headers carry receipts_root; a pruning hub's export has headers, a state, blocks
STATE_PAIRS_PER_LINE = 1000
BLOCKS_IN_FLIGHT_MAX = 16


@dataclass(frozen=True)
class AdminAccess:
    """What opens a hub's operator endpoints: its admin token, and a TLS context showing the
    operator's client certificate."""

    token: str
    context: ssl.SSLContext


@dataclass(frozen=True)
class ExportSummary:
    chain_id: str
    from_height: int
    to_height: int
    blocks: int
    transactions: int


async def export_chain(
    client: Client,
    out: Path,
    *,
    from_height: int = 1,
    to_height: int | None = None,
    show_progress: bool = True,
    admin: AdminAccess | None = None,
) -> ExportSummary:
    """Write blocks from_height..to_height (default: the latest) of the hub ``client`` asks to
    ``out``; from a pruning hub, from genesis only, with ``admin`` (see the module's docstring)."""
    status = await client.get_status()
    latest, kept = int(status["height"]), int(status.get("first_block_height", 1))
    last = latest if to_height is None else to_height
    if from_height < 1 or last < from_height:
        raise ValueError(f"--from {from_height} --to {last} is not a range of heights from 1")
    if last > latest:
        raise ValueError(f"the node is at height {latest}; it has no block {last}")
    pruned_to = min(kept - 1, last)
    if pruned_to >= from_height and (from_height != 1 or admin is None):
        raise ValueError(
            f"the hub prunes: it keeps blocks from {kept}, so it can export from {kept}, or from 1 "
            "with the state after the pruned blocks, which needs its operator's --admin-token and --cert"
        )
    progress = Progress(last - from_height + 1, "blocks exported") if show_progress else None
    transactions = 0
    with out.open("w", encoding="utf-8") as stream:
        _write_line(
            stream,
            {
                "format": EXPORT_FORMAT,
                "version": EXPORT_VERSION,
                "chain_id": status["chain_id"],
                "from_height": from_height,
                "to_height": last,
                "node": status["node"],
                "first_block_height": max(from_height, pruned_to + 1),
            },
        )
        if pruned_to >= from_height and admin is not None:
            await _write_headers(client, stream, pruned_to, progress)
            await _write_state(client.base_url, admin, pruned_to, stream)
        for first in range(max(from_height, pruned_to + 1), last + 1, BLOCKS_IN_FLIGHT_MAX):
            heights = range(first, min(first + BLOCKS_IN_FLIGHT_MAX, last + 1))
            blocks = await asyncio.gather(*(client.get_block(height) for height in heights))
            for block in blocks:
                transactions += len(block["transactions"])
                _write_line(stream, to_export_line(block))
            if progress is not None:
                progress.advance(len(heights))
    if progress is not None:
        progress.finish()
    return ExportSummary(status["chain_id"], from_height, last, last - from_height + 1, transactions)


async def _write_headers(client: Client, stream: TextIO, last: int, progress: Progress | None) -> None:
    for first in range(1, last + 1, BLOCKS_IN_FLIGHT_MAX):
        heights = range(first, min(first + BLOCKS_IN_FLIGHT_MAX, last + 1))
        headers = await asyncio.gather(
            *(client.request("GET", f"/v1/headers/{height}") for height in heights)
        )
        for header in headers:
            _write_line(stream, {name: header[name] for name in ("height", "header", "certificate")})
        if progress is not None:
            progress.advance(len(heights))


async def _write_state(url: str, admin: AdminAccess, height: int, stream: TextIO) -> None:
    """The state after block ``height``, as the hub rebuilds it, in lines of STATE_PAIRS_PER_LINE."""
    path = f"/v1/admin/state?height={height}"
    async with open_admin_stream(url, path, admin.token, admin.context) as response:
        head = json.loads(await response.content.readline())
        if head.get("height") != height:
            raise ValueError(f"the hub sent the state at height {head.get('height')}, not {height}")
        pairs: list[Any] = []
        async for line in response.content:
            if line.strip():
                pairs.append(json.loads(line))
            if len(pairs) >= STATE_PAIRS_PER_LINE:
                _write_line(stream, {"state": pairs})
                pairs = []
        if pairs:
            _write_line(stream, {"state": pairs})


def to_export_line(block: dict[str, Any]) -> dict[str, Any]:
    """One export line from a block as GET /v1/blocks/{height} answers it."""
    return {
        "height": block["height"],
        "header": block["header"],
        "transactions": [
            {name: value for name, value in transaction.items() if name != "id"}
            for transaction in block["transactions"]
        ],
        "certificate": block["certificate"],
    }


def _write_line(stream: TextIO, value: dict[str, Any]) -> None:
    stream.write(json.dumps(value, separators=(",", ":"), sort_keys=True) + "\n")
