"""Execution, injected: the replica proposes and checks blocks through this Protocol.

The consensus core never imports contracts or storage; the node passes an
object that builds and validates blocks speculatively (on top of a parent that
may not be committed yet) and the simulator passes a small deterministic fake.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from consensus.errors import ConsensusError
from ledger.block import Block
from ledger.transaction import Transaction
from ledger.types import Hash, Height, TimestampMs, ValidatorIndex, View


class InvalidBlock(ConsensusError):
    """Raised when a proposed block is not valid."""

    code = "INVALID_BLOCK"


class Application(Protocol):
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
        """Execute speculatively on top of block ``previous_hash``, leave out inadmissible
        transactions, and return the block with its transactions root and state digest."""
        ...

    def validate_block(self, block: Block) -> None:
        """Raise InvalidBlock unless the block's transactions are signed and executing
        them on its parent's state gives the header's state digest."""
        ...

    def is_committed(self, transaction_id: Hash) -> bool:
        """Whether a committed block holds this transaction."""
        ...
