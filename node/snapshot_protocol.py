"""State snapshots over the peer links: the requests, the answers, and the serving side.

Two requests ride the request/response frames of state transfer (node/state_transfer.py),
each a canonical CBOR map:

- ``{"kind": "get_snapshot_offers"}`` is answered ``{"offers": [{"height", "state_root",
  "chunks"}, ...]}``, newest first: the snapshots this hub keeps (storage/snapshots.py).
- ``{"kind": "get_snapshot_chunk", "height": H, "chunk": i}`` is answered ``{"height": H,
  "chunk": i, "pairs": [[key, value], ...], "siblings": [hash x CHUNK_LEVELS]}``.

An offer is only a claim: the joining hub believes a height's state root only from a
header whose commit certificate it checked against the genesis validators, and every
chunk only once ``verify_chunk`` leads it to that root. Answers are bounded like a
block-fetch answer (RESPONSE_BYTES_MAX); a chunk that would not fit is refused with
SNAPSHOT_CHUNK_TOO_LARGE rather than cut (about 10 million accounts, see docs/design.md).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from ledger import cbor
from ledger.errors import DecodeError, LedgerError
from ledger.state_tree import CHUNK_LEVELS, CHUNKS
from ledger.types import HASH_BYTES, Hash, Height
from node.state_transfer import REQUEST_BYTES_MAX, RESPONSE_BYTES_MAX
from storage.snapshots import SNAPSHOTS_KEPT_MAX, Offer, Pairs, SnapshotKeeper

OFFERS_KIND = "get_snapshot_offers"
CHUNK_KIND = "get_snapshot_chunk"
OFFERS_BYTES_MAX = 4096
STATE_KEY_BYTES_MAX = 4096  # far above any contract's key (contracts/keys.py)
STATE_VALUE_BYTES_MAX = 1 << 20
CHUNK_PAIRS_MAX = RESPONSE_BYTES_MAX // 8  # a pair costs at least 8 encoded bytes


class SnapshotUnavailable(LedgerError):
    code = "SNAPSHOT_UNAVAILABLE"


@dataclass(frozen=True, slots=True)
class Chunk:
    height: Height
    index: int
    pairs: Pairs
    siblings: list[Hash]


def encode_offers_request() -> bytes:
    return cbor.encode({"kind": OFFERS_KIND})


def encode_chunk_request(height: int, chunk: int) -> bytes:
    return cbor.encode({"kind": CHUNK_KIND, "height": height, "chunk": chunk})


def decode_chunk_request(data: bytes) -> tuple[int, int]:
    fields = cbor.expect_map(
        cbor.decode(data, bytes_max=REQUEST_BYTES_MAX), ("kind", "height", "chunk"), "request"
    )
    if fields["kind"] != CHUNK_KIND:
        raise DecodeError("not a snapshot chunk request")
    return cbor.expect_int(fields["height"], "height", low=1), cbor.expect_int(
        fields["chunk"], "chunk", high=CHUNKS - 1
    )


def encode_offers(offers: Sequence[Offer]) -> bytes:
    items = [{"height": o.height, "state_root": o.state_root, "chunks": o.chunks} for o in offers]
    return cbor.encode({"offers": items})


def decode_offers(data: bytes) -> list[Offer]:
    """A peer's offers; raises DecodeError when the answer is not offers of this protocol."""
    fields = cbor.expect_map(cbor.decode(data, bytes_max=OFFERS_BYTES_MAX), ("offers",), "offers")
    offers = []
    for item in cbor.expect_list(fields["offers"], "offers", count_max=SNAPSHOTS_KEPT_MAX):
        offer = cbor.expect_map(item, ("height", "state_root", "chunks"), "offer")
        chunks = cbor.expect_int(offer["chunks"], "chunks")
        if chunks != CHUNKS:
            raise DecodeError(f"an offer has {CHUNKS} chunks, not {chunks}")
        offers.append(
            Offer(
                Height(cbor.expect_int(offer["height"], "height", low=1)),
                Hash(cbor.expect_bytes(offer["state_root"], "state_root", size=HASH_BYTES)),
            )
        )
    return offers


def encode_chunk(chunk: Chunk) -> bytes:
    return cbor.encode(
        {
            "height": chunk.height,
            "chunk": chunk.index,
            "pairs": [[key, value] for key, value in chunk.pairs],
            "siblings": list(chunk.siblings),
        }
    )


def decode_chunk(data: bytes) -> Chunk:
    """A peer's chunk, decoded strictly (not yet verified: see verify_chunk)."""
    value = cbor.decode(data, bytes_max=RESPONSE_BYTES_MAX, depth_max=3)
    fields = cbor.expect_map(value, ("height", "chunk", "pairs", "siblings"), "chunk")
    pairs = []
    for item in cbor.expect_list(fields["pairs"], "pairs", count_max=CHUNK_PAIRS_MAX):
        pair = cbor.expect_list(item, "pair", count_max=2)
        if len(pair) != 2:
            raise DecodeError("a chunk's pair is [key, value]")
        key = cbor.expect_bytes(pair[0], "key", size_max=STATE_KEY_BYTES_MAX)
        pairs.append((key, cbor.expect_bytes(pair[1], "value", size_max=STATE_VALUE_BYTES_MAX)))
    siblings = [
        Hash(cbor.expect_bytes(item, "sibling", size=HASH_BYTES))
        for item in cbor.expect_list(fields["siblings"], "siblings", count_max=CHUNK_LEVELS)
    ]
    return Chunk(
        Height(cbor.expect_int(fields["height"], "height", low=1)),
        cbor.expect_int(fields["chunk"], "chunk", high=CHUNKS - 1),
        pairs,
        siblings,
    )


class SnapshotServer:
    """Answers peers' offer and chunk requests from the snapshots a keeper holds."""

    def __init__(self, keeper: SnapshotKeeper) -> None:
        self._keeper = keeper
        self.chunks_served = 0

    async def handle_offers(self, peer: int, data: bytes) -> bytes:
        return encode_offers(self._keeper.offers())

    async def handle_chunk(self, peer: int, data: bytes) -> bytes:
        height, index = decode_chunk_request(data)
        snapshot = self._keeper.get(height)
        if snapshot is None:
            raise SnapshotUnavailable(f"this hub keeps no snapshot of height {height}")
        pairs, siblings = snapshot.read_chunk(index)
        answer = encode_chunk(Chunk(Height(height), index, pairs, siblings))
        if len(answer) > RESPONSE_BYTES_MAX:
            raise SnapshotUnavailable(
                f"chunk {index} of height {height} is {len(answer)} bytes, over {RESPONSE_BYTES_MAX}",
                code="SNAPSHOT_CHUNK_TOO_LARGE",
            )
        self.chunks_served += 1
        return answer
