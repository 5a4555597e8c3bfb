"""Errors raised by the node process when it is handed bad input."""

from ledger.errors import LedgerError


class ConfigError(LedgerError):
    """Raised when a node configuration file or override is wrong; the message names the file and field."""

    code = "BAD_CONFIG"


class ApiError(LedgerError):
    """Raised by a client API handler to answer with a 4xx status, a stable code and a sentence."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message, code=code)
        self.status = status


class MempoolFull(LedgerError):
    """Raised when the mempool holds as many transactions as it may."""

    code = "MEMPOOL_FULL"
