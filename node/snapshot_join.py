"""Joining from a certified state snapshot: offers, the certified header, chunks from many peers.

The joining hub asks every linked peer for its offers and tries the heights offered,
highest first. For a height it first fetches that block with its commit certificate
(the block-fetch request of state transfer) from the peers offering it, and checks
the certificate against the genesis validators: the header's state root is then the
only root it believes. Peers whose offer names another root are dropped for that
height. Chunks are spread over the remaining peers (``PER_PEER_PARALLEL`` requests in
flight to each); every chunk is checked with ``verify_chunk`` against the certified
root as it arrives, and a chunk that fails (malformed, not verifying, not served, a
timeout) is asked of another peer that has not failed it. The peer of a bad chunk is
logged and counted. Only when all ``CHUNKS`` chunks verified does the caller get them,
to write in one batch (storage/snapshots.py): nothing unverified is ever written.
"""

from __future__ import annotations

import asyncio
from collections import Counter, deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

import structlog

from ledger.block import BlockHeader
from ledger.certificate import CommitCertificate, validate_block_certificate
from ledger.errors import LedgerError
from ledger.genesis import Genesis
from ledger.state_tree import CHUNKS, StateProofError, verify_chunk
from ledger.types import Hash, Height
from node.snapshot_protocol import decode_chunk, decode_offers, encode_chunk_request, encode_offers_request
from node.state_transfer import fetch_blocks
from storage.snapshots import Offer, Pairs

log = structlog.get_logger("hubledger.snapshots")
PER_PEER_PARALLEL = 8  # the server answers 16 requests of one peer at once (p2p settings)
OFFERS_TIMEOUT_S = 2.0


class Requester(Protocol):
    """What the joiner needs of the peer network (p2p.network.PeerNetwork)."""

    async def request(self, peer: int, payload: bytes) -> bytes: ...


class JoinFailed(LedgerError):
    code = "SNAPSHOT_JOIN_FAILED"


@dataclass
class JoinProgress:
    """What a join did so far: the node's metrics read it."""

    state: str = "idle"  # idle | offers | fetching | installed | failed | not_needed
    height: int = 0  # the height being joined, then joined
    chunks_fetched: int = 0
    chunks_verified: int = 0
    bad_chunks: Counter[str] = field(default_factory=Counter)  # by peer name: failed verification or decoding
    missing_chunks: Counter[str] = field(default_factory=Counter)  # by peer name: not served, timed out


@dataclass(frozen=True)
class JoinedSnapshot:
    header: BlockHeader
    certificate: CommitCertificate
    chunks: list[Pairs]
    sources: tuple[int, ...]  # the peers it was fetched from


class SnapshotJoiner:
    def __init__(self, network: Requester, genesis: Genesis, progress: JoinProgress | None = None) -> None:
        self._network = network
        self._genesis = genesis
        self._names = [validator.name for validator in genesis.validators]
        self.progress = progress or JoinProgress()

    async def collect_offers(self, peers: Sequence[int]) -> dict[int, list[Offer]]:
        """Every answering peer's offers, by peer; a peer that cannot answer offers nothing."""
        self.progress.state = "offers"
        answers = await asyncio.gather(*(self._ask_offers(peer) for peer in peers))
        return {peer: offers for peer, offers in zip(peers, answers, strict=True) if offers}

    async def join(self, offers: dict[int, list[Offer]], *, above: int = 0) -> JoinedSnapshot | None:
        """The highest snapshot above height ``above`` that can be certified and fetched whole."""
        heights = sorted(
            {offer.height for found in offers.values() for offer in found if offer.height > above}
        )
        for height in reversed(heights):
            offering = {
                peer: o.state_root for peer, found in offers.items() for o in found if o.height == height
            }
            try:
                return await self._join_height(height, offering)
            except JoinFailed as error:
                log.warning("snapshot_join_failed", height=height, reason=error.message)
        self.progress.state = "failed" if heights else "not_needed"
        return None

    async def _join_height(self, height: Height, offering: dict[int, Hash]) -> JoinedSnapshot:
        self.progress.state, self.progress.height = "fetching", height
        header, certificate = await self._fetch_certified_header(height, list(offering))
        sources = [peer for peer, root in offering.items() if root == header.state_root]
        for peer in offering:
            if peer not in sources:
                log.warning(
                    "snapshot_offer_refused",
                    peer=self._names[peer],
                    height=height,
                    reason="its offer names another state root than the certified header",
                )
        log.info("snapshot_join_started", height=height, peers=[self._names[p] for p in sources])
        chunks = await self._fetch_chunks(height, header.state_root, sources)
        return JoinedSnapshot(header, certificate, chunks, tuple(sources))

    async def _fetch_certified_header(
        self, height: Height, peers: list[int]
    ) -> tuple[BlockHeader, CommitCertificate]:
        for peer in peers:
            try:
                blocks = await fetch_blocks(self._network, peer, height, height)  # type: ignore[arg-type]
                if len(blocks) != 1 or blocks[0][0].height != height:
                    raise JoinFailed(f"it did not send block {height}")
                block, certificate = blocks[0]
                validate_block_certificate(
                    certificate,
                    block,
                    chain_id=self._genesis.chain_id,
                    validator_keys=self._genesis.validator_keys,
                )
                return block.header, certificate
            except Exception as error:  # any failure is the peer's: ask the next one
                log.warning(
                    "snapshot_header_failed", peer=self._names[peer], height=height, reason=str(error)
                )
        raise JoinFailed(f"no peer sent block {height} with a valid commit certificate")

    async def _fetch_chunks(self, height: Height, root: Hash, peers: list[int]) -> list[Pairs]:
        if not peers:
            raise JoinFailed(f"no peer offers height {height} with its certified state root")
        chunks: list[Pairs | None] = [None] * CHUNKS
        failed_on: dict[int, set[int]] = {index: set() for index in range(CHUNKS)}
        pending = deque(range(CHUNKS))
        while pending:
            # One round: each pending chunk goes to a peer that has not failed it, round robin.
            assigned: dict[int, list[int]] = {peer: [] for peer in peers}
            for turn, index in enumerate(pending):
                candidates = [peer for peer in peers if peer not in failed_on[index]]
                if not candidates:
                    raise JoinFailed(f"every peer offering height {height} failed chunk {index}")
                assigned[candidates[turn % len(candidates)]].append(index)
            pending.clear()
            results = await asyncio.gather(
                *(self._fetch_from(peer, height, root, indexes) for peer, indexes in assigned.items())
            )
            for peer, (done, failed) in zip(assigned, results, strict=True):
                for index, pairs in done.items():
                    chunks[index] = pairs
                for index in failed:
                    failed_on[index].add(peer)
                    pending.append(index)
        return [pairs for pairs in chunks if pairs is not None]

    async def _fetch_from(
        self, peer: int, height: Height, root: Hash, indexes: list[int]
    ) -> tuple[dict[int, Pairs], list[int]]:
        """Fetch and verify ``indexes`` from ``peer``, a few at a time: (verified, failed)."""
        done: dict[int, Pairs] = {}
        failed: list[int] = []
        queue = deque(indexes)

        async def worker() -> None:
            while queue:
                index = queue.popleft()
                pairs = await self._fetch_one(peer, height, root, index)
                if pairs is None:
                    failed.append(index)
                    failed.extend(queue)  # a peer that failed once gets no more of this round
                    queue.clear()
                else:
                    done[index] = pairs

        await asyncio.gather(*(worker() for _ in range(PER_PEER_PARALLEL)))
        return done, failed

    async def _fetch_one(self, peer: int, height: Height, root: Hash, index: int) -> Pairs | None:
        name = self._names[peer]
        try:
            answer = await self._network.request(peer, encode_chunk_request(height, index))
        except Exception as error:  # unavailable, timed out, or refused with an error code
            self.progress.missing_chunks[name] += 1
            log.info("snapshot_chunk_missing", peer=name, height=height, chunk=index, reason=str(error))
            return None
        self.progress.chunks_fetched += 1
        try:
            chunk = decode_chunk(answer)
            if (chunk.height, chunk.index) != (height, index):
                raise StateProofError(f"it answered chunk {chunk.index} of height {chunk.height}")
            verify_chunk(root, index, chunk.pairs, chunk.siblings)
        except (LedgerError, StateProofError) as error:
            self.progress.bad_chunks[name] += 1
            reason = error.message if isinstance(error, LedgerError) else str(error)
            log.warning("snapshot_chunk_bad", peer=name, height=height, chunk=index, reason=reason)
            return None
        self.progress.chunks_verified += 1
        return chunk.pairs

    async def _ask_offers(self, peer: int) -> list[Offer]:
        try:
            async with asyncio.timeout(OFFERS_TIMEOUT_S):  # a silent peer must not hold the start
                return decode_offers(await self._network.request(peer, encode_offers_request()))
        except Exception as error:  # no offers from a peer that cannot answer
            log.debug("snapshot_offers_failed", peer=self._names[peer], reason=str(error))
            return []
