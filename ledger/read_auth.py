"""Signed reads: how a client proves who is asking for private account data.

An account's balance and history are served only to the account itself, its
sponsoring bank, the central bank or a regulator. The reader signs, with its
account key, the canonical CBOR of::

    {"chain_id": ..., "method": "GET", "path": "/v1/accounts/<address>?...", "timestamp_ms": ...}

prefixed with ``hubledger/read\\n``, and sends three headers:
``X-HubLedger-Key`` (hex compressed public key), ``X-HubLedger-Timestamp``
(milliseconds since the epoch) and ``X-HubLedger-Signature`` (hex r||s).
The node accepts a timestamp within ``READ_SKEW_MAX_MS`` of its clock. A read
replayed inside that window only returns the same data to whoever could see
the original response, so no nonce is kept.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from ledger import cbor
from ledger.keys import PUBLIC_KEY_BYTES, PrivateKey, compute_address, verify_signature
from ledger.types import Address

READ_PREFIX = b"hubledger/read\n"
READ_SKEW_MAX_MS = 60_000
KEY_HEADER = "X-HubLedger-Key"
TIMESTAMP_HEADER = "X-HubLedger-Timestamp"
SIGNATURE_HEADER = "X-HubLedger-Signature"


class ReadAuthError(Exception):
    """Raised when a signed read's headers are missing, malformed, stale or do not verify."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True, slots=True)
class Reader:
    public_key: bytes

    @property
    def address(self) -> Address:
        return compute_address(self.public_key)


def compute_read_payload(chain_id: str, method: str, path: str, timestamp_ms: int) -> bytes:
    body = {"chain_id": chain_id, "method": method, "path": path, "timestamp_ms": timestamp_ms}
    return READ_PREFIX + cbor.encode(body)


def sign_read(key: PrivateKey, *, chain_id: str, method: str, path: str, timestamp_ms: int) -> dict[str, str]:
    """The headers a client adds to a GET to prove it is ``key``'s account."""
    signature = key.sign(compute_read_payload(chain_id, method, path, timestamp_ms))
    return {
        KEY_HEADER: key.public_key.hex(),
        TIMESTAMP_HEADER: str(timestamp_ms),
        SIGNATURE_HEADER: signature.hex(),
    }


def verify_read(
    headers: Mapping[str, str], *, chain_id: str, method: str, path: str, now_ms: int
) -> Reader | None:
    """The verified reader, or None when the request carries no signature at all."""
    if KEY_HEADER not in headers and SIGNATURE_HEADER not in headers:
        return None
    try:
        public_key = bytes.fromhex(headers.get(KEY_HEADER, ""))
        signature = bytes.fromhex(headers.get(SIGNATURE_HEADER, ""))
        timestamp_ms = int(headers.get(TIMESTAMP_HEADER, ""))
    except ValueError:
        raise ReadAuthError(
            "BAD_READ_SIGNATURE", "signed-read headers must be hex key, hex signature and integer timestamp"
        ) from None
    if len(public_key) != PUBLIC_KEY_BYTES:
        raise ReadAuthError(
            "BAD_READ_SIGNATURE", f"{KEY_HEADER} must be a {PUBLIC_KEY_BYTES}-byte public key in hex"
        )
    if abs(now_ms - timestamp_ms) > READ_SKEW_MAX_MS:
        raise ReadAuthError(
            "STALE_READ_SIGNATURE",
            f"the read was signed at {timestamp_ms}, more than {READ_SKEW_MAX_MS} ms from the node's clock",
        )
    if not verify_signature(
        public_key, compute_read_payload(chain_id, method, path, timestamp_ms), signature
    ):
        raise ReadAuthError("BAD_READ_SIGNATURE", "the read signature does not verify for this path and time")
    return Reader(public_key)
