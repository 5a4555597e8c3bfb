"""Errors raised by the peer links.

Each carries a stable ``code`` and a sentence a person understands, like the
errors of ``ledger``.
"""


class P2PError(Exception):
    """Root of every error raised by ``p2p``."""

    code = "P2P_ERROR"

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code


class SettingsInvalid(P2PError):
    """Raised when P2PSettings or the network's constructor arguments are impossible."""

    code = "P2P_SETTINGS_INVALID"


NO_LINK = "NO_LINK"  # PeerUnavailable's code when the peer has no link now: nothing was sent


class PeerUnavailable(P2PError):
    """Raised when a request cannot reach its peer: no link, link lost, partitioned or queue full."""

    code = "PEER_UNAVAILABLE"


class RequestTimeout(P2PError):
    """Raised when a peer does not answer a request within request_timeout_ms."""

    code = "REQUEST_TIMEOUT"


class RequestFailed(P2PError):
    """Raised when a peer answers a request with an error; ``code`` is the peer's error code."""

    code = "REQUEST_FAILED"


class PayloadTooLarge(P2PError):
    """Raised when a payload handed to send, broadcast or request exceeds message_bytes_max."""

    code = "PAYLOAD_TOO_LARGE"


class HandshakeRefused(P2PError):
    """Raised when the other side of a new link fails to prove it is the validator it claims to be."""

    code = "HANDSHAKE_REFUSED"
