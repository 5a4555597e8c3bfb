"""TLS for HubLedger's listeners and peer links: contexts, the peer's identity, the session binding.

Peer links are mutual TLS 1.3 and nothing else: both sides present a
certificate from the network's CA (``ca_file``), checked against the CA's
revocation list (``crl_file``) by OpenSSL during the handshake, and each
certificate must name the hub it speaks for (``ledger.tls_identity``). Host
names are not what authenticates a peer: the identity URI is, so a hub can
move to another address without a new certificate.

TLS alone is not trusted with the validator's identity, and the validator
key is not trusted alone either. The signed validator handshake
(handshake.py) signs a **session binding**: SHA-256 over the TLS session's
unique value (the client's Finished message, the same on both sides and
different for every connection) and the hashes of the signer's and the
verifier's certificates. So a stolen TLS certificate without the validator
key cannot produce the signature, a validator key without the hub's TLS
certificate fails the identity check, and a signature cannot be relayed
from one TLS session into another.

Why tls-unique and not the TLS exporter (RFC 9266's tls-exporter, meant for
TLS 1.3): Python's ssl module offers no keying-material exporter. Under TLS
1.3 OpenSSL's tls-unique is the client's Finished message, a MAC over the
whole handshake transcript (both key shares included), so it is still
unique to one connection; the certificates' hashes are bound beside it.
"""

from __future__ import annotations

import hashlib
import ssl
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

from ledger import cbor
from ledger.errors import LedgerError
from ledger.tls_identity import Identity, IdentityInvalid, Role, get_identity

BINDING_DOMAIN = "hubledger/tls-session-binding/v1"


class TlsFilesInvalid(LedgerError):
    """Raised when a TLS file is missing, unreadable, or not what it should be; the message names it."""

    code = "BAD_TLS_FILE"


@dataclass(frozen=True)
class TlsFiles:
    """What a hub needs for TLS: the network CA, its own certificate and key, the revocation list."""

    ca_file: Path
    certificate_file: Path
    key_file: Path
    crl_file: Path


def make_server_context(files: TlsFiles, *, client_certificate_required: bool) -> ssl.SSLContext:
    """TLS 1.3 only; client certificates checked against the CA and its CRL (required on peer links)."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    _configure(context, files)
    context.verify_mode = ssl.CERT_REQUIRED if client_certificate_required else ssl.CERT_OPTIONAL
    return context


def make_client_context(files: TlsFiles) -> ssl.SSLContext:
    """How a hub dials a peer: its own certificate, the peer's checked against the CA and CRL.

    The host name is not checked: the peer's identity URI is (``check_peer_identity``).
    """
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    _configure(context, files)
    context.verify_mode = ssl.CERT_REQUIRED
    return context


def _configure(context: ssl.SSLContext, files: TlsFiles) -> None:
    context.minimum_version = ssl.TLSVersion.TLSv1_3
    context.maximum_version = ssl.TLSVersion.TLSv1_3
    context.options |= ssl.OP_NO_COMPRESSION | ssl.OP_NO_TICKET  # no resumption: every link a full handshake
    context.verify_flags |= ssl.VERIFY_CRL_CHECK_LEAF | ssl.VERIFY_X509_STRICT
    try:
        context.load_cert_chain(files.certificate_file, files.key_file)
    except (OSError, ssl.SSLError) as error:
        raise TlsFilesInvalid(
            f"cannot load the certificate {files.certificate_file} with its key {files.key_file}: {error}"
        ) from None
    for label, path in (("CA certificate", files.ca_file), ("revocation list", files.crl_file)):
        try:
            context.load_verify_locations(cafile=path)
        except (OSError, ssl.SSLError) as error:
            raise TlsFilesInvalid(f"cannot load the {label} {path}: {error}") from None


def compute_certificate_hash(der: bytes) -> bytes:
    return hashlib.sha256(der).digest()


def read_certificate_hash(path: Path) -> bytes:
    """SHA-256 of a PEM certificate's DER encoding (our own, which ssl does not give back)."""
    try:
        certificate = x509.load_pem_x509_certificate(path.read_bytes())
    except (OSError, ValueError) as error:
        raise TlsFilesInvalid(f"cannot read the certificate {path}: {error}") from None
    return compute_certificate_hash(certificate.public_bytes(Encoding.DER))


@dataclass(frozen=True)
class TlsSession:
    """What a finished TLS handshake tells us about the other side and about the session."""

    peer_identity: Identity
    peer_certificate_hash: bytes
    unique: bytes


def get_tls_session(ssl_object: object) -> TlsSession:
    """The peer's identity and the session's unique value; raises IdentityInvalid when either is missing."""
    if not isinstance(ssl_object, ssl.SSLObject | ssl.SSLSocket):
        raise IdentityInvalid("the connection is not TLS")
    der = ssl_object.getpeercert(binary_form=True)
    unique = ssl_object.get_channel_binding("tls-unique")
    if not der or not unique:
        raise IdentityInvalid("the TLS session has no peer certificate")
    return TlsSession(
        get_identity(x509.load_der_x509_certificate(der)), compute_certificate_hash(der), unique
    )


def compute_session_binding(
    unique: bytes, *, signer_certificate: bytes, verifier_certificate: bytes
) -> bytes:
    """What a validator signature commits to besides the challenge: this session and these two certs."""
    return hashlib.sha256(
        cbor.encode([BINDING_DOMAIN, unique, signer_certificate, verifier_certificate])
    ).digest()


@dataclass(frozen=True)
class PeerTls:
    """A hub's TLS for its peer links, built once at start and handed to PeerNetwork."""

    server_context: ssl.SSLContext
    client_context: ssl.SSLContext
    own_certificate_hash: bytes
    hub_names: tuple[str, ...]  # validator index -> hub name, as genesis orders them

    @classmethod
    def load(cls, files: TlsFiles, hub_names: Sequence[str]) -> PeerTls:
        return cls(
            server_context=make_server_context(files, client_certificate_required=True),
            client_context=make_client_context(files),
            own_certificate_hash=read_certificate_hash(files.certificate_file),
            hub_names=tuple(hub_names),
        )

    def get_identity_refusal(self, session: TlsSession, index: int) -> str | None:
        """Why the certificate of ``session`` may not speak for validator ``index``, if it may not."""
        expected = Identity(Role.HUB, self.hub_names[index])
        return None if session.peer_identity == expected else "tls_identity"

    def compute_bindings(self, session: TlsSession) -> tuple[bytes, bytes]:
        """(what we sign, what the peer must have signed) for one session."""
        ours = compute_session_binding(
            session.unique,
            signer_certificate=self.own_certificate_hash,
            verifier_certificate=session.peer_certificate_hash,
        )
        theirs = compute_session_binding(
            session.unique,
            signer_certificate=session.peer_certificate_hash,
            verifier_certificate=self.own_certificate_hash,
        )
        return ours, theirs


def get_refusal_reason(error: BaseException) -> str:
    """A short, stable label for why a TLS handshake failed, for the refusal counters."""
    if isinstance(error, ssl.SSLCertVerificationError):
        return _VERIFY_REASONS.get(error.verify_code, "tls_bad_certificate")
    if isinstance(error, ssl.SSLError):
        reason = (error.reason or "").upper()
        for marker, label in _SSL_REASONS:
            if marker in reason:
                return label
        return "tls_failed"
    if isinstance(error, TimeoutError):
        return "tls_timeout"
    return "tls_closed"


# OpenSSL's X509_V_ERR_* codes (x509_vfy.h) that an operator would want told apart.
_VERIFY_REASONS = {
    2: "tls_unknown_ca",
    18: "tls_unknown_ca",
    19: "tls_unknown_ca",
    20: "tls_unknown_ca",
    21: "tls_unknown_ca",
    9: "tls_not_yet_valid",
    10: "tls_expired",
    23: "tls_revoked",
    3: "tls_no_crl",
    12: "tls_no_crl",
}
_SSL_REASONS = (
    ("HTTP_REQUEST", "tls_plaintext"),
    ("WRONG_VERSION_NUMBER", "tls_plaintext"),
    ("PACKET_LENGTH_TOO_LONG", "tls_plaintext"),
    ("RECORD_LAYER_FAILURE", "tls_plaintext"),
    ("UNKNOWN_CA", "tls_unknown_ca"),
    ("CERTIFICATE_REVOKED", "tls_revoked"),
    ("CERTIFICATE_EXPIRED", "tls_expired"),
    ("PEER_DID_NOT_RETURN_A_CERTIFICATE", "tls_no_certificate"),
    ("CERTIFICATE_REQUIRED", "tls_no_certificate"),
    ("PROTOCOL_VERSION", "tls_version"),
    ("UNSUPPORTED_PROTOCOL", "tls_version"),
    ("NO_PROTOCOLS_AVAILABLE", "tls_version"),
    ("CERTIFICATE_VERIFY_FAILED", "tls_bad_certificate"),
)
