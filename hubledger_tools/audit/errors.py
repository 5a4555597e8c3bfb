"""Errors of the audit tools: each names where the exported chain is wrong, with a stable code."""

from __future__ import annotations

from ledger.errors import LedgerError


class ChainInvalid(LedgerError):
    """Raised when an exported chain is wrong; ``height`` (0 for the file's header) says where."""

    code = "CHAIN_INVALID"

    def __init__(self, height: int, code: str, message: str, *, line: int = 0) -> None:
        super().__init__(message, code=code)
        self.height = height
        self.line = line

    def __str__(self) -> str:
        where = f"block {self.height}" if self.height else "the file's header"
        line = f" (line {self.line})" if self.line else ""
        return f"{where}{line}: {self.code}: {self.message}"
