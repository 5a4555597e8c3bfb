"""``hubledger export``: blocks with their commit certificates, from a node to a file.

The file is JSON Lines. The first line says what it is:

    {"format": "hubledger-chain-export", "version": 2, "chain_id": ..., "from_height": 1,
     "to_height": 120, "node": "beijing"}

and every next line is one block, in height order:

    {"height": 1, "header": {...}, "transactions": [{...}, ...], "certificate": {...}}

with the header, transactions and certificate as the client API shows them
(byte strings in hex). Nothing derived (hashes, ids) is written: the
verifier recomputes everything from what was signed.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from hubledger_client.client import Client
from hubledger_tools.audit.progress import Progress

EXPORT_FORMAT = "hubledger-chain-export"
EXPORT_VERSION = 2  # 2: headers carry receipts_root
BLOCKS_IN_FLIGHT_MAX = 16


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
) -> ExportSummary:
    """Write blocks from_height..to_height (default: the latest) of the hub ``client`` asks to ``out``."""
    status = await client.get_status()
    latest = int(status["height"])
    last = latest if to_height is None else to_height
    if from_height < 1 or last < from_height:
        raise ValueError(f"--from {from_height} --to {last} is not a range of heights from 1")
    if last > latest:
        raise ValueError(f"the node is at height {latest}; it has no block {last}")
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
            },
        )
        for first in range(from_height, last + 1, BLOCKS_IN_FLIGHT_MAX):
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
