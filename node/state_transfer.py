"""State transfer over the peer links: serving and fetching certified blocks.

A lagging replica asks a peer for a range of heights; the peer answers with the
blocks and their commit certificates, as many as fit in one response. The
replica verifies every certificate against the genesis validators before
anything is executed, so a peer can waste our time but never feed us a block.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ledger import cbor
from ledger.block import Block
from ledger.certificate import CommitCertificate
from ledger.errors import DecodeError
from ledger.types import Height
from p2p.network import PeerNetwork
from storage.chain import ChainStore

BLOCKS_PER_RESPONSE_MAX = 256
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
        last = min(last, self._chain.latest_height(), first + BLOCKS_PER_RESPONSE_MAX - 1)
        items: list[Any] = []
        size = 0
        for height in range(first, last + 1):
            block = self._chain.get_block(Height(height))
            certificate = self._chain.get_certificate(Height(height))
            if block is None or certificate is None:
                break
            item = [block.to_cbor_map(), certificate.to_cbor_map()]
            size += len(cbor.encode(item))
            if items and size > RESPONSE_BYTES_MAX:
                break
            items.append(item)
        return cbor.encode({"blocks": items})


async def fetch_blocks(
    network: PeerNetwork, peer: int, first: Height, last: Height
) -> Sequence[tuple[Block, CommitCertificate]]:
    """Ask ``peer`` for blocks first..last; raises DecodeError if its answer is malformed."""
    response = await network.request(peer, encode_fetch_request(first, last))
    value = cbor.decode(response, bytes_max=RESPONSE_BYTES_MAX + 1024 * 1024, depth_max=24)
    fields = cbor.expect_map(value, ("blocks",), "state transfer response")
    blocks = []
    for item in cbor.expect_list(fields["blocks"], "blocks", count_max=BLOCKS_PER_RESPONSE_MAX):
        pair = cbor.expect_list(item, "block entry", count_max=2)
        if len(pair) != 2:
            raise DecodeError("a block entry is [block, certificate]")
        blocks.append((Block.from_cbor_map(pair[0]), CommitCertificate.from_cbor_map(pair[1])))
    return blocks
