"""The committed chain on disk: blocks, certificates, receipts, transaction index and state.

Theory of operation. ``initialize`` records the genesis hash and the genesis
state once, and afterwards only checks that a reopened database belongs to the
same genesis. ``commit_block`` appends exactly one block (``commit_blocks``
several consecutive ones, each checked the same way): it checks that the
block extends the latest one (height + 1, previous_hash = latest hash), that
its certificate, receipts (their Merkle root is the header's receipts_root)
and state changes belong to it, then writes the block, its hash index, its
certificate, the location and receipt of every transaction, the state changes
and the new latest height in ONE synced write batch. A crash therefore leaves
either the whole block or none of it; the latest height is never ahead of what
is stored.

Everything is read back from the store on demand, through two caches: decoded
blocks, which never change once written, and committed state values (absent
keys included), which only a commit changes: after its batch is written, the
commit puts every key it changed into the cache with its new value. Executing a
CBDC transfer reads about ten state keys, most of them accounts that other
transfers read a moment ago; from LevelDB each read costs 1 to 4 us, from the
cache a dict lookup. A ChainStore must therefore be the only writer of its
key-value store.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import TypeVar

from ledger.block import Block, BlockHeader
from ledger.certificate import CommitCertificate
from ledger.errors import LedgerError
from ledger.receipt import Receipt
from ledger.state_tree import StateProof, build_state_proof
from ledger.transaction import Transaction
from ledger.types import HASH_BYTES, UINT63_MAX, Hash, Height
from storage import schema
from storage.block_commit import CommittedBlock, Tip, add_block, validate_belongs, validate_extends
from storage.chain_base import Base, load_base
from storage.chain_setup import write_genesis
from storage.errors import BlockPruned, CorruptRecord, StorageError
from storage.history import compute_undo, first_undo_height, mark_undo_run, trim_undo_below
from storage.kv import KeyValueStore, WriteBatch
from storage.pruning import add_pruning, decode_header
from storage.state_tree import CommittedStateTree

BLOCK_CACHE_MAX = 64
STATE_CACHE_MAX = 50_000  # entries: about 10 MB
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class TransactionRecord:
    """A committed transaction, where it was committed and what executing it did."""

    height: Height
    index: int
    transaction: Transaction
    receipt: Receipt


class ChainStore:
    def __init__(
        self,
        kv: KeyValueStore,
        *,
        block_cache_max: int = BLOCK_CACHE_MAX,
        state_cache_max: int = STATE_CACHE_MAX,
        keep_undo: bool = False,
    ) -> None:
        """``keep_undo``: write each block's undo record (storage/history.py), which a hub
        that prunes needs to rebuild the state at its first kept block."""
        self._kv = kv
        self._blocks: OrderedDict[int, Block] = OrderedDict()
        self._block_cache_max = block_cache_max
        self._state: dict[bytes, bytes | None] = {}  # insertion order: the oldest is dropped first
        self._state_cache_max = state_cache_max
        self._tree = CommittedStateTree(kv)
        self._keep_undo = keep_undo
        self._base: Base | None = None  # read on first use

    # Writing

    def initialize(self, genesis_hash: Hash, state_changes: Sequence[tuple[bytes, bytes]]) -> None:
        """Write the genesis record, state and state tree on a new database; on an existing
        one, raise ChainMismatch unless it was initialized with the same genesis hash."""
        tree = write_genesis(self._kv, self._tree, genesis_hash, state_changes)
        if tree is not None:
            self._tree.absorb(tree)

    def install_base(self, batch: WriteBatch) -> None:
        """Write ``batch``, which replaces the whole chain by a certified snapshot's base
        (storage/snapshots.py builds it), in one synced write; then forget every cache."""
        self._kv.write(batch, sync=True)
        self._blocks.clear()
        self._state.clear()
        self._tree = CommittedStateTree(self._kv)
        self._base = None

    def commit_block(
        self,
        block: Block,
        certificate: CommitCertificate,
        receipts: Sequence[Receipt],
        state_changes: Sequence[tuple[bytes, bytes | None]],
    ) -> None:
        """Append ``block`` with everything it changed in one synced write batch.

        Raises HeightConflict unless the block is at the latest height + 1 and links
        to the latest block, and BlockMismatch when the certificate, receipts,
        transactions or state changes do not belong to it; nothing is written then.
        """
        self.commit_blocks([CommittedBlock(block, certificate, receipts, state_changes)])

    def commit_blocks(self, blocks: Sequence[CommittedBlock]) -> None:
        """Append consecutive blocks, each checked as ``commit_block`` checks one, in ONE synced
        write batch: a replica replaying fetched blocks pays one disk sync for the lot."""
        if not blocks:
            return
        latest = self.latest_height()
        tip = Tip(latest, self.get_latest_hash(), self._tree)
        batch = WriteBatch()
        pending: set[Hash] = set()  # transactions of the earlier blocks in this batch
        trees = []
        written: dict[bytes, bytes | None] = {}  # state writes of the earlier blocks in this batch
        mark_undo_run(self._kv, batch, latest, keep_undo=self._keep_undo)
        for committed in blocks:
            block = committed.block
            validate_extends(block, tip)
            tree = validate_belongs(self._kv, committed, tip.tree, pending)
            if self._keep_undo:
                undo = compute_undo(committed.changes, self._reader(written))
                batch.put(schema.undo_key(block.height), undo)
            written.update(committed.changes)
            add_block(batch, committed)
            self._tree.write(batch, tree, committed.changes)
            pending.update(transaction.id for transaction in block.transactions)
            tip = Tip(block.height, block.hash, tree)
            trees.append(tree)
        batch.put(schema.LATEST_HEIGHT_KEY, schema.encode_height(tip.height))
        self._kv.write(batch, sync=True)
        for tree in trees:
            self._tree.absorb(tree)
        for committed in blocks:
            self._remember(committed.block)
            for key, value in committed.changes:
                self._cache_state(key, value)

    # Reading the chain

    def latest_height(self) -> Height:
        """Height of the latest committed block; 0 before any block."""
        return schema.read_height(self._kv, schema.LATEST_HEIGHT_KEY) or Height(0)

    def base_height(self) -> Height:
        """The height the store starts from: 0 (genesis), or that of the snapshot it joined from."""
        return self._load_base()[0]

    def get_base_header(self) -> BlockHeader | None:
        """The header of the snapshot's block a joined store starts from; None from genesis."""
        return self._load_base()[1]

    def _load_base(self) -> Base:
        if self._base is None:
            self._base = load_base(self._kv)
        return self._base

    def get_genesis_hash(self) -> Hash:
        return self._get_meta_hash(schema.GENESIS_HASH_KEY)

    def get_latest_hash(self) -> Hash:
        """Hash of the latest committed block; the genesis hash at height 0."""
        latest = self.latest_height()
        if latest == 0:
            return self.get_genesis_hash()
        header = self.get_header(latest)
        if header is None:
            raise CorruptRecord(schema.block_key(latest), f"the latest block {latest} is missing")
        return header.hash

    def get_block(self, height: int) -> Block | None:
        """The block at ``height``; None when there is none (including heights no block can have)."""
        if not 0 < height <= UINT63_MAX:
            return None
        cached = self._blocks.get(height)
        if cached is not None:
            self._blocks.move_to_end(height)
            return cached
        key = schema.block_key(height)
        data = self._kv.get(key)
        if data is None:
            return None
        block = _decode(key, data, Block.decode)
        if block.height != height:
            raise CorruptRecord(key, f"it holds block {block.height}")
        self._remember(block)
        return block

    def get_header(self, height: int) -> BlockHeader | None:
        """The header at ``height``, also of a block whose body was pruned."""
        block = self.get_block(height)
        if block is not None:
            return block.header
        base_height, base_header = self._load_base()
        if height == base_height:  # the snapshot's block a joined store starts from
            return base_header
        if not base_height < height < self.first_block_height():
            return None
        key = schema.pruned_header_key(height)
        data = self._kv.get(key)
        return None if data is None else _decode(key, data, decode_header)

    def first_block_height(self) -> Height:
        """The lowest height whose block body this store holds: above the snapshot a joined store
        starts from, and above the bodies it pruned (latest + 1 when it holds none)."""
        pruned = schema.read_height(self._kv, schema.FIRST_BLOCK_HEIGHT_KEY) or 1
        return Height(max(pruned, self.base_height() + 1))

    def prune_below(self, height: int, *, blocks_max: int) -> int:
        """Drop the bodies, receipts and undo records of blocks below ``height`` (at most
        ``blocks_max`` of them, oldest first), keeping their headers and certificates;
        returns how many were pruned. The latest block is never pruned."""
        first = self.first_block_height()
        end = min(height, self.latest_height(), first + blocks_max)
        if end <= first:
            return 0
        batch = WriteBatch()
        transactions = self._count_meta(schema.PRUNED_TRANSACTIONS_KEY)
        for pruned in range(first, end):
            block = self.get_block(pruned)
            if block is None:
                raise CorruptRecord(schema.block_key(pruned), "a block above the pruned ones is missing")
            add_pruning(batch, block)
            transactions += len(block.transactions)
            self._blocks.pop(pruned, None)
        batch.put(schema.PRUNED_TRANSACTIONS_KEY, schema.encode_height(transactions))
        batch.put(schema.FIRST_BLOCK_HEIGHT_KEY, schema.encode_height(end))
        first_undo = first_undo_height(self._kv)
        if first_undo is not None:  # the undo records of the pruned blocks go with them
            batch.put(schema.FIRST_UNDO_HEIGHT_KEY, schema.encode_height(max(end, first_undo)))
        self._kv.write(batch, sync=True)
        return end - first

    def get_block_by_hash(self, block_hash: Hash) -> Block | None:
        key = schema.block_hash_key(block_hash)
        data = self._kv.get(key)
        if data is None:
            return None
        height = _decode(key, data, schema.decode_height)
        if height < self.first_block_height():
            raise BlockPruned(height, self.first_block_height())
        block = self.get_block(height)
        if block is None or block.hash != block_hash:
            raise CorruptRecord(key, f"it points at height {height}, which holds another block")
        return block

    def get_encoded_certified_block(self, height: int) -> tuple[bytes, bytes] | None:
        """The stored encodings of the block at ``height`` and of its certificate, unread: what a
        peer fetching blocks is sent, and checks in full (an honest store holds them canonical)."""
        if not 0 < height <= UINT63_MAX:
            return None
        block = self._kv.get(schema.block_key(height))
        certificate = self._kv.get(schema.certificate_key(height))
        return None if block is None or certificate is None else (block, certificate)

    def get_certificate(self, height: int) -> CommitCertificate | None:
        if not 0 < height <= UINT63_MAX:
            return None
        key = schema.certificate_key(height)
        data = self._kv.get(key)
        return None if data is None else _decode(key, data, CommitCertificate.decode)

    def get_state_root(self, height: int) -> Hash:
        """State root after block ``height``: the genesis state root at 0."""
        if height == 0:
            return self._get_meta_hash(schema.GENESIS_STATE_ROOT_KEY)
        header = self.get_header(height)
        if header is None:
            raise StorageError(f"no block at height {height}", code="UNKNOWN_HEIGHT")
        return header.state_root

    @property
    def state_tree(self) -> CommittedStateTree:
        """The state tree of the latest committed block (what speculative trees stack on)."""
        return self._tree

    def prove_state(self, key: bytes) -> tuple[Height, StateProof]:
        """A proof of ``key``'s record (or absence) at the latest committed height; an earlier
        height's is built from a snapshot of the store (storage/history.py ``prove_state_at``)."""
        return self.latest_height(), build_state_proof(self._tree, key, self.get_state(key))

    def first_provable_height(self) -> Height:
        """The lowest height whose state this store can rebuild: below the first block with an
        undo record (storage/history.py), or the latest when it keeps none."""
        first = first_undo_height(self._kv)
        return self.latest_height() if first is None else Height(first - 1)

    def trim_undo_below(self, height: int, *, blocks_max: int) -> int:
        """Drop the undo records of blocks below ``height`` (storage/history.py)."""
        return trim_undo_below(self._kv, height, blocks_max=blocks_max)

    def has_transaction(self, transaction_id: Hash) -> bool:
        """Whether a committed block holds the transaction; one key lookup, no block read."""
        return self._kv.get(schema.transaction_location_key(transaction_id)) is not None

    def get_transaction(self, transaction_id: Hash) -> TransactionRecord | None:
        key = schema.transaction_location_key(transaction_id)
        data = self._kv.get(key)
        if data is None:
            return None
        height, index = _decode(key, data, schema.decode_location)
        if height < self.first_block_height():
            raise BlockPruned(height, self.first_block_height())
        block = self.get_block(height)
        if block is None or index >= len(block.transactions):
            raise CorruptRecord(key, f"it points at transaction {index} of block {height}, which is missing")
        transaction = block.transactions[index]
        if transaction.id != transaction_id:
            raise CorruptRecord(key, f"transaction {index} of block {height} has another id")
        return TransactionRecord(height, index, transaction, self._get_receipt(transaction_id))

    def get_receipts(self, block: Block) -> list[Receipt]:
        """The receipts of a committed block, in the order of its transactions."""
        return [self._get_receipt(transaction.id) for transaction in block.transactions]

    # Reading the state

    def get_state(self, key: bytes) -> bytes | None:
        try:
            return self._state[key]
        except KeyError:
            value = self._kv.get(schema.state_key(key))
            self._cache_state(key, value)
            return value

    def iterate_state(self, prefix: bytes) -> Iterator[tuple[bytes, bytes]]:
        """Committed state entries whose key starts with ``prefix``, in key order."""
        skip = len(schema.STATE_PREFIX)
        pairs = self._kv.iterate(prefix=schema.state_key(prefix))  # opened now, so it reads as of now
        return ((key[skip:], value) for key, value in pairs)

    # Internals

    def _remember(self, block: Block) -> None:
        self._blocks[block.height] = block
        self._blocks.move_to_end(block.height)
        while len(self._blocks) > self._block_cache_max:
            self._blocks.popitem(last=False)

    def _reader(self, written: dict[bytes, bytes | None]) -> Callable[[bytes], bytes | None]:
        return lambda key: written[key] if key in written else self.get_state(key)

    def _count_meta(self, key: bytes) -> int:
        """A meta record holding a number (8 bytes, as a height); 0 when absent."""
        return schema.read_height(self._kv, key) or 0

    def pruned_transactions(self) -> int:
        """How many committed transactions' receipts pruning dropped (their locations stay)."""
        return self._count_meta(schema.PRUNED_TRANSACTIONS_KEY)

    def _cache_state(self, key: bytes, value: bytes | None) -> None:
        self._state.pop(key, None)  # re-inserted at the young end
        self._state[key] = value
        if len(self._state) > self._state_cache_max:
            del self._state[next(iter(self._state))]

    def _get_receipt(self, transaction_id: Hash) -> Receipt:
        key = schema.receipt_key(transaction_id)
        data = self._kv.get(key)
        if data is None:
            raise CorruptRecord(key, "the receipt of a committed transaction is missing")
        return _decode(key, data, Receipt.decode)

    def _get_meta_hash(self, key: bytes) -> Hash:
        data = self._kv.get(key)
        if data is None:
            raise StorageError("the chain store holds no genesis yet", code="NOT_INITIALIZED")
        if len(data) != HASH_BYTES:
            raise CorruptRecord(key, f"a hash is {HASH_BYTES} bytes, not {len(data)}")
        return Hash(data)


def _decode(key: bytes, data: bytes, decoder: Callable[[bytes], T]) -> T:
    """Decode a stored record strictly; a record that does not decode is corrupt, named by its key."""
    try:
        return decoder(data)
    except (LedgerError, ValueError) as error:
        reason = error.message if isinstance(error, LedgerError) else str(error)
        raise CorruptRecord(key, reason) from None
