"""The base of a chain store: where its stored chain starts.

A store built from genesis starts at height 0. A store that joined the network
from a certified state snapshot of height H (storage/snapshots.py) starts at H:
it holds H's header and commit certificate, the state after H and its tree, and
block bodies from H + 1 up only. ``ChainStore.first_block_height`` is then H + 1.
"""

from __future__ import annotations

from ledger import cbor
from ledger.block import BlockHeader
from ledger.errors import LedgerError
from ledger.types import Height
from storage import schema
from storage.errors import CorruptRecord
from storage.kv import KeyValueStore, WriteBatch

HEADER_BYTES_MAX = 4096
Base = tuple[Height, BlockHeader | None]


def encode_header(header: BlockHeader) -> bytes:
    return cbor.encode(header.to_cbor_map())


def decode_header(data: bytes) -> BlockHeader:
    return BlockHeader.from_cbor_map(cbor.decode(data, bytes_max=HEADER_BYTES_MAX))


def put_base(batch: WriteBatch, header: BlockHeader) -> None:
    batch.put(schema.BASE_HEIGHT_KEY, schema.encode_height(header.height))
    batch.put(schema.BASE_HEADER_KEY, encode_header(header))


def load_base(kv: KeyValueStore) -> Base:
    """(base height, its header), or (0, None) for a store that starts at genesis."""
    data = kv.get(schema.BASE_HEIGHT_KEY)
    if data is None:
        return Height(0), None
    try:
        height = schema.decode_height(data)
        header = decode_header(kv.get(schema.BASE_HEADER_KEY) or b"")
    except (LedgerError, ValueError) as error:
        reason = error.message if isinstance(error, LedgerError) else str(error)
        raise CorruptRecord(schema.BASE_HEADER_KEY, reason) from None
    if header.height != height:
        raise CorruptRecord(schema.BASE_HEADER_KEY, f"it holds the header of {header.height}, not {height}")
    return height, header
