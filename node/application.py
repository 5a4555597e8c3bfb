"""Block execution for the consensus replica: building, checking and committing blocks.

The replica proposes and votes on blocks before they are committed, and with
pipelining block h + 1 is built on top of block h while h is still in flight.
So execution is speculative: each proposed block's state changes live in an
overlay stacked on its parent's, keyed by block hash, until the block is
committed (written to LevelDB in one batch) or abandoned by a view change.
Signatures are verified once per transaction id, and never skipped.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from consensus.application import InvalidBlock
from contracts.context import BlockContext
from contracts.errors import TransactionRejected
from contracts.execution import BlockResult, execute_block
from contracts.state import Overlay, StateReader
from ledger.block import Block, BlockHeader, compute_transactions_root
from ledger.certificate import CommitCertificate
from ledger.receipt import Receipt, compute_receipts_root
from ledger.state_tree import StateTreeBase, StateTreeOverlay
from ledger.transaction import Transaction
from ledger.types import Hash, Height, TimestampMs, ValidatorIndex, View
from storage.block_commit import CommittedBlock
from storage.chain import ChainStore

VERIFIED_IDS_MAX = 200_000  # a bound only: an id is forgotten once its transaction commits
# State transfer validates a whole response of blocks before the first commits, each block
# executing on the one before: past this many overlays, a block executes on a flattened copy.
OVERLAY_DEPTH_MAX = 8


class ChainStateReader:
    """The committed state, read straight from the chain store."""

    def __init__(self, chain: ChainStore) -> None:
        self._chain = chain

    def get(self, key: bytes) -> bytes | None:
        return self._chain.get_state(key)

    def iterate(self, prefix: bytes) -> Iterator[tuple[bytes, bytes]]:
        return self._chain.iterate_state(prefix)


@dataclass(frozen=True)
class SpeculativeBlock:
    block: Block
    result: BlockResult
    tree: StateTreeOverlay  # the state tree after the block, stacked on its parent's


class LedgerApplication:
    """Implements consensus.application.Application over the contracts and the chain store."""

    def __init__(self, *, chain: ChainStore, chain_id: str) -> None:
        self._chain = chain
        self._chain_id = chain_id
        self._committed = ChainStateReader(chain)
        self._speculative: dict[Hash, SpeculativeBlock] = {}
        self._verified: OrderedDict[Hash, None] = OrderedDict()

    @property
    def committed_state(self) -> ChainStateReader:
        return self._committed

    def speculative_overlay(self, block_hash: Hash) -> Overlay:
        """The state changes of a proposed, not yet committed block (for inspection)."""
        return self._speculative[block_hash].result.overlay

    def mark_verified(self, transaction: Transaction) -> None:
        """Record a transaction whose signature the caller has just checked."""
        self._verified[transaction.id] = None
        if len(self._verified) > VERIFIED_IDS_MAX:
            self._verified.popitem(last=False)

    def is_verified(self, transaction: Transaction) -> bool:
        return transaction.id in self._verified

    def has_valid_signature(self, transaction: Transaction) -> bool:
        if self.is_verified(transaction):
            return True
        if not transaction.has_valid_signature():
            return False
        self.mark_verified(transaction)
        return True

    def build_block(
        self,
        *,
        previous_hash: Hash,
        height: Height,
        view: View,
        proposer: ValidatorIndex,
        timestamp_ms: TimestampMs,
        transactions: Sequence[Transaction],
    ) -> Block:
        signed = [tx for tx in transactions if self.has_valid_signature(tx)]
        context = BlockContext(self._chain_id, height, timestamp_ms)
        result = execute_block(self._state_after(previous_hash), signed, context, skip_inadmissible=True)
        included = tuple(result.transactions)
        tree = StateTreeOverlay(self._tree_after(previous_hash))
        header = BlockHeader(
            chain_id=self._chain_id,
            height=height,
            previous_hash=previous_hash,
            view=view,
            timestamp_ms=timestamp_ms,
            proposer=proposer,
            transactions_root=compute_transactions_root(included),
            transaction_count=len(included),
            receipts_root=compute_receipts_root(result.receipts),
            state_root=tree.apply(result.changes),
        )
        block = Block(header, included)
        self._speculative[block.hash] = SpeculativeBlock(block, result, tree)
        return block

    def validate_block(self, block: Block) -> None:
        header = block.header
        if header.chain_id != self._chain_id:
            raise InvalidBlock(f"block is for chain {header.chain_id!r}, not {self._chain_id!r}")
        for transaction in block.transactions:
            if not self.has_valid_signature(transaction):
                raise InvalidBlock(f"transaction {transaction.id.hex()} has a bad signature")
        result = self._execute(block)
        tree = StateTreeOverlay(self._tree_after(header.previous_hash))
        if tree.apply(result.changes) != header.state_root:
            raise InvalidBlock("block's state root differs from the result of executing it")
        self._speculative[block.hash] = SpeculativeBlock(block, result, tree)

    def is_committed(self, transaction_id: Hash) -> bool:
        return self._chain.has_transaction(transaction_id)

    def commit(self, block: Block, certificate: CommitCertificate) -> Sequence[Receipt]:
        """Write a committed block with everything it changed in one synced batch."""
        return self.commit_blocks([(block, certificate)])[0]

    def commit_blocks(self, delivered: Sequence[tuple[Block, CommitCertificate]]) -> list[Sequence[Receipt]]:
        """Write consecutive committed blocks with everything they changed in one synced batch."""
        results = [self._get_result(block) for block, _ in delivered]
        trees = [self._speculative[block.hash].tree for block, _ in delivered]
        tip_tree = trees[-1]
        self._chain.commit_blocks(
            [
                CommittedBlock(block, certificate, result.receipts, result.changes, tree)
                for (block, certificate), result, tree in zip(delivered, results, trees, strict=True)
            ]
        )
        self._forget_up_to(delivered[-1][0].height)
        for block, _ in delivered:  # never checked again: a committed transaction is refused first
            for transaction in block.transactions:
                self._verified.pop(transaction.id, None)
        for child in self._speculative.values():
            if child.result.overlay.parent is results[-1].overlay:
                child.result.overlay.rebase(self._committed)
            if child.tree.parent is tip_tree:
                child.tree.rebase(self._chain.state_tree)
        return [result.receipts for result in results]

    def _get_result(self, block: Block) -> BlockResult:
        speculative = self._speculative.get(block.hash)
        if speculative is None:  # fetched by state transfer: execute on the committed state
            self.validate_block(block)
            speculative = self._speculative[block.hash]
        return speculative.result

    def _execute(self, block: Block) -> BlockResult:
        """Execute ``block`` on its parent's state; raises InvalidBlock when a transaction could
        never have been included or the receipts are not the ones the header commits to."""
        header = block.header
        context = BlockContext(self._chain_id, header.height, header.timestamp_ms)
        try:
            result = execute_block(
                self._state_after(header.previous_hash),
                block.transactions,
                context,
                skip_inadmissible=False,
            )
        except TransactionRejected as error:
            raise InvalidBlock(f"block holds an inadmissible transaction: {error.message}") from None
        receipts_root = compute_receipts_root(result.receipts)
        if receipts_root != header.receipts_root:
            raise InvalidBlock(
                f"block's receipts_root {header.receipts_root.hex()} differs from the root "
                f"{receipts_root.hex()} of the receipts executing it gives"
            )
        return result

    def _state_after(self, block_hash: Hash) -> StateReader:
        if block_hash == self._chain.get_latest_hash():
            return self._committed
        speculative = self._speculative.get(block_hash)
        if speculative is None:
            raise InvalidBlock(f"parent block {block_hash.hex()} is neither committed nor proposed")
        overlay = speculative.result.overlay
        return overlay.flattened() if overlay.depth() > OVERLAY_DEPTH_MAX else overlay

    def _tree_after(self, block_hash: Hash) -> StateTreeBase | StateTreeOverlay:
        if block_hash == self._chain.get_latest_hash():
            return self._chain.state_tree
        speculative = self._speculative.get(block_hash)
        if speculative is None:
            raise InvalidBlock(f"parent block {block_hash.hex()} is neither committed nor proposed")
        tree = speculative.tree
        return tree.flattened() if tree.depth() > OVERLAY_DEPTH_MAX else tree

    def _forget_up_to(self, height: Height) -> None:
        stale = [h for h, s in self._speculative.items() if s.block.height <= height]
        for block_hash in stale:
            del self._speculative[block_hash]
