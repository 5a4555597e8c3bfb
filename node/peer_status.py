"""What the other hubs say about themselves, asked over the peer links.

Every ``poll_interval_ms`` the node asks each linked peer for a small status
record over the p2p request channel (the request/response frames state
transfer uses), so no hub needs to know another's client API address. The
answers are kept with the time they arrived. The status page shows them;
``/readyz`` counts this node behind when f + 1 peers (so at least one honest
one) report a height more than ``READY_LAG_BLOCKS_MAX`` above its own.

A peer's answer is only what it claims: it is decoded strictly and bounded,
and nothing but the status page and readiness reads it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import structlog
from aiohttp import web

from ledger import cbor
from ledger.certificate import compute_faults_max
from ledger.errors import DecodeError
from node.clock import now_ms
from node.peer_links import STATUS_REQUEST_KIND
from node.service import Node

STATUS_BYTES_MAX = 8 * 1024
POLL_INTERVAL_MS = 1000
FRESH_MS_MAX = 5000  # an answer older than this says nothing about the peer now
READY_LAG_BLOCKS_MAX = 2  # blocks in flight can make an up-to-date node look a block or two behind
_FIELDS = (
    "node",
    "height",
    "view",
    "primary",
    "connected_peers",
    "mempool_size",
    "evidence_count",
    "fetching",
)

log = structlog.get_logger("hubledger.node")


@dataclass(frozen=True)
class HubStatus:
    node: str
    height: int
    view: int
    primary: str
    connected_peers: tuple[str, ...]
    mempool_size: int
    evidence_count: int
    fetching: bool
    received_ms: int

    def to_cbor_map(self) -> dict[str, Any]:
        return {
            "node": self.node,
            "height": self.height,
            "view": self.view,
            "primary": self.primary,
            "connected_peers": list(self.connected_peers),
            "mempool_size": self.mempool_size,
            "evidence_count": self.evidence_count,
            "fetching": self.fetching,
        }

    def to_json(self, *, at_ms: int) -> dict[str, Any]:
        return {**self.to_cbor_map(), "age_ms": max(0, at_ms - self.received_ms)}


def get_own_status(node: Node) -> HubStatus:
    names = [validator.name for validator in node.genesis.validators]
    replica = node.replica.get_status()
    return HubStatus(
        node=node.config.node.name,
        height=node.chain.latest_height(),
        view=replica.view,
        primary=names[replica.primary],
        connected_peers=tuple(names[peer] for peer in node.network.connected_peers()),
        mempool_size=len(node.mempool),
        evidence_count=node.evidence.count(),
        fetching=node.is_fetching,
        received_ms=now_ms(),
    )


def decode_status(data: bytes, names: list[str], received_ms: int) -> HubStatus:
    """A peer's status answer; raises DecodeError when it is not one."""
    fields = cbor.expect_map(cbor.decode(data, bytes_max=STATUS_BYTES_MAX), _FIELDS, "status")
    peers = cbor.expect_list(fields["connected_peers"], "connected_peers", count_max=len(names))
    hub_names = [_expect_name(value, names) for value in (fields["node"], fields["primary"], *peers)]
    if not isinstance(fields["fetching"], bool):
        raise DecodeError("fetching must be a boolean")
    return HubStatus(
        node=hub_names[0],
        height=cbor.expect_int(fields["height"], "height"),
        view=cbor.expect_int(fields["view"], "view"),
        primary=hub_names[1],
        connected_peers=tuple(hub_names[2:]),
        mempool_size=cbor.expect_int(fields["mempool_size"], "mempool_size"),
        evidence_count=cbor.expect_int(fields["evidence_count"], "evidence_count"),
        fetching=fields["fetching"],
        received_ms=received_ms,
    )


def _expect_name(value: Any, names: list[str]) -> str:
    text = cbor.expect_text(value, "hub name")
    if text not in names:
        raise DecodeError(f"{text!r} is not a validator of this chain")
    return text


class PeerStatusBoard:
    """Answers peers' status requests and keeps their latest answers to ours."""

    def __init__(self, node: Node, *, poll_interval_ms: int = POLL_INTERVAL_MS) -> None:
        self._node = node
        self._names = [validator.name for validator in node.genesis.validators]
        self._poll_interval_ms = poll_interval_ms
        self._statuses: dict[str, HubStatus] = {}
        node.add_request_handler(STATUS_REQUEST_KIND, self.handle)

    async def handle(self, peer: int, request: bytes) -> bytes:
        return cbor.encode(get_own_status(self._node).to_cbor_map())

    def get_statuses(self) -> Mapping[str, HubStatus]:
        """Every peer's latest answer, fresh or not, by hub name."""
        return dict(self._statuses)

    def count_answered_since(self, since_ms: int) -> int:
        """How many peers answered a status request at ``since_ms`` or later (node/standing.py)."""
        return sum(1 for status in self._statuses.values() if status.received_ms >= since_ms)

    def compute_lag_blocks(self) -> tuple[int, int]:
        """(how far this node is behind, the height f + 1 fresh peers report at least)."""
        now = now_ms()
        heights = sorted(
            (s.height for s in self._statuses.values() if now - s.received_ms <= FRESH_MS_MAX), reverse=True
        )
        needed = compute_faults_max(len(self._names)) + 1
        if len(heights) < needed:
            return 0, 0
        vouched = heights[needed - 1]
        return max(0, vouched - self._node.chain.latest_height()), vouched

    async def poll_once(self) -> None:
        peers = self._node.network.connected_peers()
        await asyncio.gather(*(self._ask(peer) for peer in peers))

    async def _ask(self, peer: int) -> None:
        request = cbor.encode({"kind": STATUS_REQUEST_KIND})
        try:
            answer = await self._node.network.request(peer, request)
            status = decode_status(answer, self._names, now_ms())
        except Exception as error:  # a peer that cannot answer just has no fresh status
            log.debug("peer_status_failed", peer=self._names[peer], reason=str(error))
            return
        if status.node != self._names[peer]:
            log.debug("peer_status_failed", peer=self._names[peer], reason=f"it calls itself {status.node}")
            return
        self._statuses[status.node] = status

    async def poll_forever(self) -> None:
        stalled_at: int | None = None
        while True:
            await self.poll_once()
            stalled_at = self._nudge_if_stalled(stalled_at)
            await asyncio.sleep(self._poll_interval_ms / 1000)

    def _nudge_if_stalled(self, stalled_at: int | None) -> int | None:
        """After a partition that left the links open, an idle network shows a lagging hub
        nothing: no link comes up and no vote arrives. When f + 1 fresh answers are above this
        hub's height at two polls in a row and its height has not moved between them, the
        replica is told to ask them (``on_peers_ahead``). The height it was stalled at is kept
        between polls; None when not lagging."""
        lag, _ = self.compute_lag_blocks()
        height = self._node.chain.latest_height()
        if lag == 0:
            return None
        if stalled_at == height:
            self._node.report_peers_ahead(self._get_peers_above(height))
        return height

    def _get_peers_above(self, height: int) -> list[int]:
        now = now_ms()
        fresh_above = {
            name for name, status in self._statuses.items()
            if now - status.received_ms <= FRESH_MS_MAX and status.height > height
        }
        return [index for index, name in enumerate(self._names) if name in fresh_above]


PEER_STATUS = web.AppKey("peer_status", PeerStatusBoard)
