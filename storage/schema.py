"""Every key HubLedger writes to its database is built here.

A key is ``SCHEMA_VERSION`` (one byte), then a one-byte prefix naming the kind
of record, then the record's identifier. Heights are 8-byte big-endian so that
byte order is height order and blocks iterate in sequence. Changing the layout
of any record means a new ``SCHEMA_VERSION``, so an old database is recognised
instead of misread.

    meta                 V 'm' name                 -> genesis hash and state root, version, latest height,
                                                       base height and header (a store joined from a snapshot)
    block by height      V 'b' height(8)            -> Block.encode()
    block hash -> height V 'h' hash(32)             -> height(8)
    certificate          V 'c' height(8)            -> CommitCertificate.encode()
    tx location          V 't' tx id(32)            -> height(8) index(4)
    receipt              V 'r' tx id(32)            -> Receipt.encode()
    contract state       V 's' raw key              -> raw value
    state tree entry     V 'x' key hash(32)         -> value hash(32) raw key (ledger/state_tree.py)
    state tree bucket    V 'y' bucket(2)            -> bucket hash(32), absent for an empty bucket
    pruned header        V 'p' height(8)            -> BlockHeader (the block's body was pruned)
    undo record          V 'u' height(8)            -> what the block's changes overwrote (storage/history.py)
    consensus log        V 'l' opaque key           -> opaque value
    evidence record      V 'e' sequence(8)          -> opaque record
    evidence id          V 'i' evidence id          -> sequence(8)
"""

from ledger.types import UINT63_MAX, Hash, Height
from storage.errors import CorruptRecord, StorageError
from storage.kv import ReadView

SCHEMA_VERSION = 3  # 2: headers carry the state root, the state tree is stored; 3: and receipts_root
VERSION_PREFIX = bytes([SCHEMA_VERSION])
HEIGHT_BYTES = 8
INDEX_BYTES = 4

META_PREFIX = VERSION_PREFIX + b"m"
BLOCK_PREFIX = VERSION_PREFIX + b"b"
BLOCK_HASH_PREFIX = VERSION_PREFIX + b"h"
CERTIFICATE_PREFIX = VERSION_PREFIX + b"c"
TRANSACTION_LOCATION_PREFIX = VERSION_PREFIX + b"t"
RECEIPT_PREFIX = VERSION_PREFIX + b"r"
STATE_PREFIX = VERSION_PREFIX + b"s"
STATE_ENTRY_PREFIX = VERSION_PREFIX + b"x"
STATE_BUCKET_PREFIX = VERSION_PREFIX + b"y"
PRUNED_HEADER_PREFIX = VERSION_PREFIX + b"p"
UNDO_PREFIX = VERSION_PREFIX + b"u"
CONSENSUS_LOG_PREFIX = VERSION_PREFIX + b"l"
EVIDENCE_RECORD_PREFIX = VERSION_PREFIX + b"e"
EVIDENCE_ID_PREFIX = VERSION_PREFIX + b"i"

GENESIS_HASH_KEY = META_PREFIX + b"genesis-hash"
GENESIS_STATE_ROOT_KEY = META_PREFIX + b"genesis-state-root"
SCHEMA_VERSION_KEY = META_PREFIX + b"schema-version"
LATEST_HEIGHT_KEY = META_PREFIX + b"latest-height"
EVIDENCE_COUNT_KEY = META_PREFIX + b"evidence-count"
FIRST_BLOCK_HEIGHT_KEY = META_PREFIX + b"first-block-height"  # absent: every body from 1 is kept
FIRST_UNDO_HEIGHT_KEY = META_PREFIX + b"first-undo-height"  # absent: no undo records are kept
PRUNED_TRANSACTIONS_KEY = META_PREFIX + b"pruned-transactions"  # whose receipts pruning dropped
# A store joined from a state snapshot of height H (storage/snapshots.py) starts at H: it holds
# H's header and certificate, the state after H, and the blocks above H only.
BASE_HEIGHT_KEY = META_PREFIX + b"base-height"
BASE_HEADER_KEY = META_PREFIX + b"base-header"


def encode_height(height: int) -> bytes:
    if not 0 <= height <= UINT63_MAX:
        raise StorageError(f"height {height} is outside 0..2^63-1", code="BAD_HEIGHT")
    return height.to_bytes(HEIGHT_BYTES, "big")


def decode_height(data: bytes) -> Height:
    """Inverse of encode_height; raises ValueError on a wrong length (callers name the key)."""
    if len(data) != HEIGHT_BYTES:
        raise ValueError(f"a height is {HEIGHT_BYTES} bytes, not {len(data)}")
    return Height(int.from_bytes(data, "big"))


def read_height(kv: ReadView, key: bytes) -> Height | None:
    """The height (or count) stored under ``key``, None when there is none; a record that is not
    one is corrupt, named by its key."""
    data = kv.get(key)
    if data is None:
        return None
    try:
        return decode_height(data)
    except ValueError as error:
        raise CorruptRecord(key, str(error)) from None


def encode_location(height: int, index: int) -> bytes:
    return encode_height(height) + index.to_bytes(INDEX_BYTES, "big")


def decode_location(data: bytes) -> tuple[Height, int]:
    if len(data) != HEIGHT_BYTES + INDEX_BYTES:
        raise ValueError(f"a transaction location is {HEIGHT_BYTES + INDEX_BYTES} bytes, not {len(data)}")
    return decode_height(data[:HEIGHT_BYTES]), int.from_bytes(data[HEIGHT_BYTES:], "big")


def block_key(height: int) -> bytes:
    return BLOCK_PREFIX + encode_height(height)


def block_hash_key(block_hash: Hash) -> bytes:
    return BLOCK_HASH_PREFIX + block_hash


def certificate_key(height: int) -> bytes:
    return CERTIFICATE_PREFIX + encode_height(height)


def transaction_location_key(transaction_id: Hash) -> bytes:
    return TRANSACTION_LOCATION_PREFIX + transaction_id


def receipt_key(transaction_id: Hash) -> bytes:
    return RECEIPT_PREFIX + transaction_id


def state_key(key: bytes) -> bytes:
    return STATE_PREFIX + key


def state_entry_key(key_hash: bytes) -> bytes:
    return STATE_ENTRY_PREFIX + key_hash


def state_bucket_key(bucket: int) -> bytes:
    return STATE_BUCKET_PREFIX + bucket.to_bytes(2, "big")


def pruned_header_key(height: int) -> bytes:
    return PRUNED_HEADER_PREFIX + encode_height(height)


def undo_key(height: int) -> bytes:
    return UNDO_PREFIX + encode_height(height)


def consensus_log_key(key: bytes) -> bytes:
    return CONSENSUS_LOG_PREFIX + key


def evidence_record_key(sequence: int) -> bytes:
    return EVIDENCE_RECORD_PREFIX + encode_height(sequence)  # a sequence has a height's range


def evidence_id_key(evidence_id: bytes) -> bytes:
    return EVIDENCE_ID_PREFIX + evidence_id
