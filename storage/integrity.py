"""Checking at start that a node's database is whole, before the node serves or votes.

Theory of operation. LevelDB is opened with paranoid checks and reads verify
checksums (storage/kv.py), so damage that LevelDB can see (a flipped bit in
its write-ahead log or in a table, a truncated table) raises DatabaseCorrupt
wherever it is read. Damage it cannot see is a hole: records lost whole, as
when a damaged log record used to be skipped without a word. ``check_database``
looks for both, in two passes over what is stored:

1. Every record of the database is read once, in key order (checksums verified
   on every table block). On the way it checks that blocks and certificates
   are stored at exactly the heights 1 to the latest, no more and no fewer
   (a store that prunes: bodies from its first kept block, headers below),
   that the block hash index has as many entries as there are blocks, and
   that there are as many receipts as indexed transactions. The consensus log is read whole, so a damaged
   log refuses the start instead of loading shorter: a replica must never
   forget a vote it sent.
2. The newest ``window_blocks`` blocks are checked in full (from genesis when
   the chain is no longer than that). The node asks for four checkpoint
   intervals, so the last stable checkpoint and everything the replica may
   still vote on or be asked for in a view change lie inside; a full check
   costs about 1 ms a block of 20 transactions, so from genesis every start
   would grow with the chain, while pass 1 already proves every older record
   present and undamaged. In the window, each block decodes as the block of
   its height, its transactions match its header, it links to the
   hash of the block before it, its hash index points back at it, its
   certificate is a valid quorum of the validators' COMMITs for it, and every
   transaction it holds is indexed at its place with a decodable receipt.
3. The state tree: each stored bucket hash is the hash of the bucket's stored
   entries, and the root is the latest block's state root (storage/state_tree.py).

Any failure raises DatabaseCorrupt naming what is wrong; the node then refuses
to start (node/runner.py) and tells the operator how to repair.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from ledger.certificate import validate_certificate
from ledger.errors import LedgerError
from ledger.types import Hash, Height
from storage import schema
from storage.chain import ChainStore
from storage.errors import CorruptRecord, DatabaseCorrupt
from storage.kv import KeyValueStore, LevelDBStore

WINDOW_BLOCKS = 200  # four checkpoint intervals of the default 50
DATABASE_CORRUPT_EXIT_STATUS = 3  # documented in docs/operators.md: supervisors must not restart on it
REPAIR = (
    "stop the node, move its data directory aside (keep it for inspection) or delete it, and start "
    "the node again: it rebuilds its chain from its peers by certified state transfer; "
    "or restore the data directory from a backup"
)


@dataclass(frozen=True, slots=True)
class IntegrityReport:
    """What a check that found nothing wrong looked at."""

    latest_height: Height
    records_read: int
    blocks_checked: int
    elapsed_ms: int


def open_and_check(
    path: Path,
    *,
    chain_id: str,
    genesis_hash: Hash,
    validator_keys: Sequence[bytes],
    window_blocks: int = WINDOW_BLOCKS,
) -> IntegrityReport:
    """What a node runs before it starts: open the LevelDB database in ``path``, check it
    (``check_database``) and close it. Raises DatabaseCorrupt on any damage, StorageError
    (DATABASE_LOCKED, DATABASE_UNAVAILABLE) when it cannot be opened at all."""
    kv = LevelDBStore.open(path)
    try:
        return check_database(
            kv,
            chain_id=chain_id,
            genesis_hash=genesis_hash,
            validator_keys=validator_keys,
            window_blocks=window_blocks,
        )
    finally:
        kv.close()


def check_database(
    kv: KeyValueStore,
    *,
    chain_id: str,
    genesis_hash: Hash,
    validator_keys: Sequence[bytes],
    window_blocks: int = WINDOW_BLOCKS,
) -> IntegrityReport:
    """Raise DatabaseCorrupt unless the chain in ``kv`` is whole (see the module's docstring).

    A database without a genesis record (a new node) or of another genesis is
    left to ChainStore.initialize, which writes or refuses it.
    """
    started = time.monotonic()
    chain = ChainStore(kv, block_cache_max=2)
    try:
        if kv.get(schema.GENESIS_HASH_KEY) != genesis_hash:
            return IntegrityReport(Height(0), 0, 0, 0)
        latest, base, first_body = chain.latest_height(), chain.base_height(), chain.first_block_height()
        records = _scan_records(kv, latest, base, first_body, chain.pruned_transactions())
        first = max(first_body, latest - window_blocks + 1)
        previous_hash = _get_block_hash(chain, Height(first - 1), genesis_hash)
        for height in range(first, latest + 1):
            previous_hash = _check_block(
                chain, Height(height), previous_hash, chain_id=chain_id, validator_keys=validator_keys
            )
        problems = chain.state_tree.find_problems(chain.get_state_root(latest))
        if problems:
            raise DatabaseCorrupt(problems[0])
    except CorruptRecord as error:
        raise DatabaseCorrupt(error.message) from None
    elapsed_ms = int((time.monotonic() - started) * 1000)
    return IntegrityReport(latest, records, latest - first + 1, elapsed_ms)


def _scan_records(
    kv: KeyValueStore, latest: Height, base: int, first_body: int, pruned_transactions: int
) -> int:
    """Pass 1: read every record once; check the per-height records and the indexes' counts.
    A store joined from a snapshot of height ``base`` holds certificates from it and nothing
    below (storage/chain_base.py); a pruning store holds block bodies from ``first_body`` and
    the headers of the blocks between."""
    counts: dict[bytes, int] = {}
    per_height = {  # the heights each kind is stored at, without a gap
        schema.BLOCK_PREFIX: ("block", first_body, latest),
        schema.PRUNED_HEADER_PREFIX: ("pruned block's header", base + 1, first_body - 1),
        schema.CERTIFICATE_PREFIX: ("certificate", max(1, base), latest),
    }
    prefix_bytes = len(schema.BLOCK_PREFIX)
    records = 0
    for key, _ in kv.iterate():  # verifies the checksum of every table block on the way
        records += 1
        prefix = key[:prefix_bytes]
        count = counts.get(prefix, 0) + 1
        counts[prefix] = count
        kind = per_height.get(prefix)
        if kind is not None and key != prefix + (kind[1] + count - 1).to_bytes(schema.HEIGHT_BYTES, "big"):
            found = int.from_bytes(key[prefix_bytes:], "big")
            raise DatabaseCorrupt(_describe_gap(kind[0], kind[1] + count - 1, found, kind[2]))
    for prefix, (name, low, high) in per_height.items():
        stored = counts.get(prefix, 0)
        if stored != high - low + 1:
            if high == latest:
                raise DatabaseCorrupt(
                    f"the chain's latest height is {latest} but {name}s are stored up to {low + stored - 1}"
                )
            raise DatabaseCorrupt(f"{name}s must be stored at heights {low} to {high}, but {stored} are")
    hashes = counts.get(schema.BLOCK_HASH_PREFIX, 0)
    if hashes != latest - base:
        raise DatabaseCorrupt(
            f"{latest - base} blocks are stored but {hashes} entries of the block hash index"
        )
    locations = counts.get(schema.TRANSACTION_LOCATION_PREFIX, 0)
    receipts = counts.get(schema.RECEIPT_PREFIX, 0)
    if locations != receipts + pruned_transactions:
        raise DatabaseCorrupt(
            f"{locations} transactions are indexed but {receipts} receipts are stored "
            f"and {pruned_transactions} were pruned"
        )
    return records


def _describe_gap(kind: str, expected: int, found: int, latest: int) -> str:
    if found > latest:
        return f"a {kind} is stored at height {found}, beyond the latest height {latest}"
    return f"the {kind} at height {expected} is missing (the next stored is at {found}; latest {latest})"


def _get_block_hash(chain: ChainStore, height: Height, genesis_hash: Hash) -> Hash:
    if height == 0:
        return genesis_hash
    header = chain.get_header(height)  # a pruned block's or the snapshot base's header
    if header is None:
        raise DatabaseCorrupt(f"the block at height {height} is missing")
    return header.hash


def _check_block(
    chain: ChainStore, height: Height, previous_hash: Hash, *, chain_id: str, validator_keys: Sequence[bytes]
) -> Hash:
    """Pass 2 for one block; returns its hash, which the next block must name as its parent."""
    block = chain.get_block(height)
    certificate = chain.get_certificate(height)
    if block is None or certificate is None:
        raise DatabaseCorrupt(f"the block or the certificate at height {height} is missing")
    try:
        block.validate_body()
        validate_certificate(
            certificate,
            chain_id=chain_id,
            validator_keys=validator_keys,
            block_hash=block.hash,
            height=height,
        )
    except LedgerError as error:
        raise DatabaseCorrupt(f"block {height}: {error.message}") from None
    if block.header.previous_hash != previous_hash:
        raise DatabaseCorrupt(f"block {height} does not link to the block at height {height - 1}")
    if chain.get_block_by_hash(block.hash) is None:
        raise DatabaseCorrupt(f"block {height} is missing from the block hash index")
    for index, transaction in enumerate(block.transactions):
        record = chain.get_transaction(transaction.id)  # raises CorruptRecord on a bad place or receipt
        if record is None or (record.height, record.index) != (height, index):
            raise DatabaseCorrupt(f"transaction {index} of block {height} is not indexed at its place")
    return block.hash
