"""Errors raised by the data model when it is handed bad input.

Every error carries a stable, machine-readable ``code`` and a sentence a person
understands, so the client API and the peer layer can pass both on unchanged.
"""


class LedgerError(Exception):
    """Root of every bad-input error raised by ``ledger``."""

    code = "INVALID"

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code


class DecodeError(LedgerError):
    """Raised when bytes are not a canonical, well-formed encoding of the expected value."""

    code = "MALFORMED"


class TooLarge(DecodeError):
    """Raised when an encoded value is over its size limit (checked before decoding)."""

    code = "TOO_LARGE"


class SignatureInvalid(LedgerError):
    """Raised when a signature does not verify, is malformed or is not low-S."""

    code = "BAD_SIGNATURE"


class KeyInvalid(LedgerError):
    """Raised when a public or private key cannot be parsed."""

    code = "BAD_KEY"


class CertificateInvalid(LedgerError):
    """Raised when a commit certificate does not prove finality of its block."""

    code = "BAD_CERTIFICATE"
