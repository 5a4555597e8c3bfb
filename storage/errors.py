"""Errors raised by ``storage`` when a database cannot be used as asked.

Each carries a stable, machine-readable ``code`` and a sentence a person
understands, like every HubLedger error (they share ``ledger.errors.LedgerError``
as their root, so the node answers them the same way).
"""

from ledger.errors import LedgerError


class StorageError(LedgerError):
    """Root of every error raised by ``storage``; also raised when the database
    cannot be opened, read or written (locked, unreadable, closed, disk full)."""

    code = "STORAGE_ERROR"


class DatabaseCorrupt(StorageError):
    """Raised when LevelDB finds a checksum that does not match, or the start-up check
    (storage/integrity.py) finds the chain not whole: the node must not serve or vote on it."""

    code = "DATABASE_CORRUPT"


class ChainMismatch(StorageError):
    """Raised when the database holds another chain (another genesis hash) than the one asked for."""

    code = "CHAIN_MISMATCH"


class HeightConflict(StorageError):
    """Raised when a block is not at the latest height + 1, or does not link to the latest block."""

    code = "HEIGHT_CONFLICT"


class BlockMismatch(StorageError):
    """Raised when the certificate, receipts or transaction ids handed over with a block
    do not belong to it (wrong certificate, receipt count, a transaction already committed)."""

    code = "BLOCK_MISMATCH"


class CorruptRecord(StorageError):
    """Raised when a stored record does not decode as what its key says it holds."""

    code = "CORRUPT_RECORD"

    def __init__(self, key: bytes, reason: str) -> None:
        super().__init__(f"stored record under key {key.hex()} is corrupt: {reason}")
        self.key = key


class BlockPruned(StorageError):
    """Raised when what is asked for was in a block whose body this store pruned: its header
    and certificate are kept, its transactions and receipts are not."""

    code = "BLOCK_PRUNED"

    def __init__(self, height: int, first_kept: int) -> None:
        super().__init__(
            f"this hub holds block bodies from height {first_kept} only (it prunes older ones, or "
            f"joined the network from a snapshot): block {height}'s transactions are not here; "
            f"other hubs may hold them, and a pruned block's header stays (GET /v1/headers/{height})"
        )
        self.height = height
        self.first_kept = first_kept
