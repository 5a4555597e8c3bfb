"""Errors of the consensus core.

Bad input from a peer becomes a ``PeerFault`` at one door (``decode_message``);
the driver counts it against the peer. A bad configuration is a ``ConfigError``.
"""

from ledger.errors import LedgerError


class ConsensusError(LedgerError):
    """Root of every bad-input error raised by ``consensus``."""

    code = "CONSENSUS"


class PeerFault(ConsensusError):
    """Raised when a peer's message is malformed, unsigned, foreign or absurd.

    ``reason`` is a short stable word for counters and logs; ``code`` is the
    machine-readable error code the peer layer reports.
    """

    code = "PEER_FAULT"

    def __init__(self, reason: str, message: str | None = None, *, code: str | None = None) -> None:
        super().__init__(message or reason, code=code or reason.upper())
        self.reason = reason


class ConfigError(ConsensusError):
    """Raised when the replica configuration is inconsistent."""

    code = "BAD_CONFIG"


class InvariantViolation(Exception):
    """Raised when a replica's own state breaks one of its written invariants.

    Not bad input: a bug in the replica. It is never caught to carry on; tests and
    the simulator call ``Replica.check_invariants`` after every step so that the
    first broken rule stops the run with its name.
    """
