"""Reading the chain: blocks, node status, evidence and health."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from consensus.evidence import Evidence
from ledger.block import Block
from ledger.types import Hash, Height
from node.api.keys import NODE, STANDING
from node.errors import ApiError
from node.peer_status import PEER_STATUS, READY_LAG_BLOCKS_MAX
from node.proofs import build_proof
from node.service import Node
from storage.errors import BlockPruned

EVIDENCE_LIST_MAX = 100


def render_block(node: Node, block: Block) -> dict[str, Any]:
    certificate = node.chain.get_certificate(block.height)
    return {
        "height": block.height,
        "hash": block.hash.hex(),
        "header": block.header.to_json(),
        "transactions": [
            {"id": transaction.id.hex(), **transaction.to_json()} for transaction in block.transactions
        ],
        "certificate": certificate.to_json() if certificate else None,
    }


async def get_block(request: web.Request) -> web.Response:
    node = request.app[NODE]
    height = _parse_height(node, request.match_info["height"])
    block = node.chain.get_block(_committed_height(node, height))
    if block is None:
        raise BlockPruned(height, node.chain.first_block_height())
    return web.json_response(render_block(node, block))


async def get_header(request: web.Request) -> web.Response:
    """A committed block's header and certificate, kept also when its body was pruned."""
    node = request.app[NODE]
    height = _committed_height(node, _parse_height(node, request.match_info["height"]))
    header, certificate = node.chain.get_header(height), node.chain.get_certificate(height)
    if header is None or certificate is None:  # below a snapshot this hub joined from
        raise ApiError(404, "NOT_FOUND", f"this hub holds no header at height {height}")
    return web.json_response(
        {
            "height": height,
            "hash": header.hash.hex(),
            "header": header.to_json(),
            "certificate": certificate.to_json(),
        }
    )


def _parse_height(node: Node, text: str) -> Height:
    if text == "latest":
        return node.chain.latest_height()
    if text.isdigit() and len(text) <= 19:
        return Height(int(text))
    raise ApiError(400, "BAD_IDENTIFIER", "a block is named by its height (a whole number) or 'latest'")


def _committed_height(node: Node, height: Height) -> Height:
    if height == 0:
        raise ApiError(404, "NOT_FOUND", "no block has been committed yet; height 0 is the genesis")
    latest = node.chain.latest_height()
    if height > latest:
        raise ApiError(404, "NOT_FOUND", f"no block at height {height}; the chain is at {latest}")
    return height


def compute_status(node: Node) -> dict[str, Any]:
    replica = node.replica.get_status()
    height = node.chain.latest_height()
    names = [validator.name for validator in node.genesis.validators]
    return {
        "chain_id": node.genesis.chain_id,
        "node": node.config.node.name,
        "height": height,
        "first_block_height": node.chain.first_block_height(),  # bodies below it are pruned
        "last_block_hash": node.chain.get_latest_hash().hex(),
        "view": replica.view,
        "primary": names[replica.primary],
        "is_primary": replica.primary == node.index,
        "stable_checkpoint": replica.stable_checkpoint,
        "validators": names,
        "connected_peers": sorted(names[peer] for peer in node.network.connected_peers()),
        "mempool_size": len(node.mempool),
    }


async def get_proof(request: web.Request) -> web.Response:
    """A committed transaction's finality proof, checkable offline (hubledger verify-receipt)."""
    node = request.app[NODE]
    text = request.match_info["id"]
    transaction_id = bytes.fromhex(text) if len(text) == 64 and _is_hex(text) else b""
    if not transaction_id:
        raise ApiError(400, "BAD_IDENTIFIER", "transaction id must be 64 hex characters")
    proof = build_proof(node.chain, Hash(transaction_id))
    if proof is None:
        raise ApiError(404, "NOT_FOUND", f"transaction {text} is not committed on this node")
    return web.json_response(proof)


def _is_hex(text: str) -> bool:
    return all(character in "0123456789abcdefABCDEF" for character in text)


async def get_status(request: web.Request) -> web.Response:
    return web.json_response(compute_status(request.app[NODE]))


async def get_evidence(request: web.Request) -> web.Response:
    node = request.app[NODE]
    records = [Evidence.decode(data).to_json() for data in node.evidence.list(EVIDENCE_LIST_MAX)]
    return web.json_response({"count": node.evidence.count(), "evidence": records})


async def get_healthz(request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


async def get_readyz(request: web.Request) -> web.Response:
    """Ready: linked to a quorum that answers (node/standing.py), taking part in ordering
    (not alone in a view, not changing view, not refusing proposals over its clock) and not
    behind (not fetching blocks, and no f + 1 peers ahead)."""
    node = request.app[NODE]
    peers = len(node.network.connected_peers())
    needed = node.quorum - 1
    if peers < needed:
        raise ApiError(503, "NOT_READY", f"connected to {peers} peers; a quorum needs {needed}")
    no_quorum = request.app[STANDING].get_quorum_refusal()  # linked, but have they answered?
    if no_quorum is not None:
        raise ApiError(503, "NOT_READY", no_quorum.message)
    concern = node.replica.get_status().liveness_concern
    if concern is not None:
        raise ApiError(503, "NOT_READY", concern)
    height = node.chain.latest_height()
    if node.is_fetching:
        raise ApiError(503, "NOT_READY", f"catching up: fetching blocks from peers (at height {height})")
    lag, vouched = request.app[PEER_STATUS].compute_lag_blocks()
    if lag > READY_LAG_BLOCKS_MAX:
        raise ApiError(
            503, "NOT_READY", f"behind: peers are at height {vouched}, this node at {height} ({lag} blocks)"
        )
    return web.json_response({"status": "ready", "connected_peers": peers, "height": height})
