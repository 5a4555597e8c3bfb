"""State transfer over the peer links: serving and fetching certified blocks.

A lagging replica asks a peer for a range of heights; the peer answers with the
blocks and their commit certificates, as many as fit in one response, each as
the canonical bytes its chain store holds: ``{"blocks": [[block, certificate],
...]}`` with both byte strings. The replica decodes them strictly (keeping each
transaction's encoding, as for a proposed block) and verifies every
certificate against the genesis validators before anything is executed, so a
peer can waste our time but never feed us a block.

A replay is a loop of such answers, so the fetcher asks for the next part
while the replica checks this one, and has the signatures of its transactions
checked in worker processes meanwhile (node/signature_pool.py): the replica's
own check then finds them verified.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence

import structlog

from ledger import cbor
from ledger.block import Block
from ledger.certificate import CommitCertificate
from ledger.errors import DecodeError
from ledger.limits import BLOCK_BYTES_MAX, FETCHED_BLOCKS_MAX
from ledger.transaction import Transaction
from ledger.types import Height
from node.signature_pool import SignaturePool
from p2p.errors import NO_LINK, PeerUnavailable
from p2p.network import PeerNetwork
from storage.chain import ChainStore

log = structlog.get_logger("hubledger.node")
RESPONSE_BYTES_MAX = 8 * 1024 * 1024
REQUEST_BYTES_MAX = 1024


def encode_fetch_request(first: Height, last: Height) -> bytes:
    return cbor.encode({"kind": "get_blocks", "from": first, "to": last})


def decode_fetch_request(data: bytes) -> tuple[int, int]:
    value = cbor.decode(data, bytes_max=REQUEST_BYTES_MAX)
    fields = cbor.expect_map(value, ("kind", "from", "to"), "request")
    if fields["kind"] != "get_blocks":
        raise DecodeError("unknown request kind")
    first = cbor.expect_int(fields["from"], "from", low=1)
    last = cbor.expect_int(fields["to"], "to", low=first)
    return first, last


class StateTransferServer:
    """Answers a peer's request for certified blocks from our chain store."""

    def __init__(self, chain: ChainStore) -> None:
        self._chain = chain

    async def handle(self, peer: int, data: bytes) -> bytes:
        first, last = decode_fetch_request(data)
        last = min(last, self._chain.latest_height(), first + FETCHED_BLOCKS_MAX - 1)
        items: list[list[bytes]] = []
        size = 0
        for height in range(first, last + 1):
            stored = self._chain.get_encoded_certified_block(Height(height))
            if stored is None:
                break
            size += len(stored[0]) + len(stored[1])
            if items and size > RESPONSE_BYTES_MAX:
                break
            items.append(list(stored))
        return cbor.encode({"blocks": items})


async def fetch_blocks(
    network: PeerNetwork, peer: int, first: Height, last: Height
) -> Sequence[tuple[Block, CommitCertificate]]:
    """Ask ``peer`` for blocks first..last; raises DecodeError if its answer is malformed."""
    return decode_fetch_response(await network.request(peer, encode_fetch_request(first, last)))


def decode_fetch_response(response: bytes) -> Sequence[tuple[Block, CommitCertificate]]:
    """The certified blocks of a state-transfer answer, decoded strictly; raises DecodeError."""
    value = cbor.decode(response, bytes_max=RESPONSE_BYTES_MAX + BLOCK_BYTES_MAX, depth_max=3)
    fields = cbor.expect_map(value, ("blocks",), "state transfer response")
    blocks = []
    for item in cbor.expect_list(fields["blocks"], "blocks", count_max=FETCHED_BLOCKS_MAX):
        pair = cbor.expect_list(item, "block entry", count_max=2)
        if len(pair) != 2:
            raise DecodeError("a block entry is [block, certificate]")
        block = Block.decode(cbor.expect_bytes(pair[0], "block", size_max=BLOCK_BYTES_MAX))
        certificate = CommitCertificate.decode(cbor.expect_bytes(pair[1], "certificate"))
        blocks.append((block, certificate))
    return blocks


CertifiedBlocks = Sequence[tuple[Block, CommitCertificate]]


class BlockFetcher:
    """Fetches certified blocks for the replica, one answer ahead of it."""

    def __init__(
        self,
        network: PeerNetwork,
        pool: SignaturePool,
        *,
        is_verified: Callable[[Transaction], bool],
        mark_verified: Callable[[Transaction], None],
    ) -> None:
        self._network = network
        self._pool = pool
        self._is_verified = is_verified
        self._mark_verified = mark_verified
        self._ahead: tuple[int, int, asyncio.Future[CertifiedBlocks]] | None = None  # peer, first, answer

    async def fetch(self, peer: int, first: Height, last: Height) -> CertifiedBlocks:
        """Blocks first..last (or fewer) from ``peer``; raises what fetch_blocks raises."""
        answer = self._take_ahead(peer, first)
        blocks = await (answer or self._fetch_checked(peer, first, last))
        if blocks and blocks[-1][0].height < last:
            after = Height(blocks[-1][0].height + 1)
            ahead = asyncio.ensure_future(self._fetch_checked(peer, after, last))
            ahead.add_done_callback(_consume_error)
            self._ahead = (peer, after, ahead)
        return blocks

    def close(self) -> None:
        self._take_ahead(-1, Height(0))
        self._pool.close()

    def _take_ahead(self, peer: int, first: Height) -> asyncio.Future[CertifiedBlocks] | None:
        ahead, self._ahead = self._ahead, None
        if ahead is None:
            return None
        if ahead[:2] == (peer, first):
            return ahead[2]
        ahead[2].cancel()  # the replica asked for something else
        return None

    async def _fetch_checked(self, peer: int, first: Height, last: Height) -> CertifiedBlocks:
        blocks = await fetch_blocks(self._network, peer, first, last)
        unverified = [tx for block, _ in blocks for tx in block.transactions if not self._is_verified(tx)]
        for transaction in await self._pool.find_valid(unverified):
            self._mark_verified(transaction)
        return blocks


def _consume_error(future: asyncio.Future[CertifiedBlocks]) -> None:
    if not future.cancelled():
        future.exception()  # an answer read ahead and never taken: its failure is nobody's


def log_fetch_failure(peer: str, error: Exception) -> None:
    if isinstance(error, PeerUnavailable) and error.code == NO_LINK:
        # Nothing was asked (at start every probe races the links coming up): the replica asks
        # another peer, and this one again once its link is up. Nobody needs to act.
        log.debug("state_transfer_skipped", peer=peer, reason=str(error))
    else:
        log.warning("state_transfer_failed", peer=peer, reason=str(error))
