"""The node's TLS, checked at start: every file of [tls] is read and judged before anything listens.

A mistake (a missing file, a certificate of another CA or of another hub, a
key that is not the certificate's, an expired certificate, a revocation list
the CA did not sign or that has lapsed) stops the node with the file, the
field and the reason, like every other config error, instead of a node that
starts and then fails every handshake.
"""

from __future__ import annotations

import datetime
import ssl
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import NoReturn, TypeVar

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization

from ledger.tls_identity import Identity, IdentityInvalid, Role, get_identity
from node.config_sections import NodeConfig
from node.errors import ConfigError
from p2p.tls import PeerTls, TlsFiles, TlsFilesInvalid, make_server_context

T = TypeVar("T")


@dataclass(frozen=True)
class NodeTls:
    """The contexts the node's two listeners and its peer dials use."""

    peer: PeerTls
    api_context: ssl.SSLContext | None  # None: the client API is plain HTTP ([tls] api_plaintext)


def get_tls_files(config: NodeConfig) -> TlsFiles:
    tls = config.tls
    return TlsFiles(tls.ca_file, tls.certificate_file, tls.key_file, tls.crl_file)


def load_node_tls(config: NodeConfig, hub_names: Sequence[str], path: Path) -> NodeTls:
    """Check [tls] and build its contexts; raises ConfigError naming the file, the field and the reason."""
    validate_tls_files(config, path)
    files = get_tls_files(config)
    try:
        peer = PeerTls.load(files, hub_names)
        api = (
            None
            if config.tls.api_plaintext
            else make_server_context(files, client_certificate_required=False)
        )
    except TlsFilesInvalid as error:
        raise ConfigError(f"{path}: tls: {error.message}") from None
    return NodeTls(peer, api)


def validate_tls_files(config: NodeConfig, path: Path, *, now: datetime.datetime | None = None) -> None:
    """Raise ConfigError unless every [tls] file is there and fits the others and this hub."""
    tls = config.tls
    now = now or datetime.datetime.now(datetime.UTC)
    ca = _read(path, "ca_file", tls.ca_file, x509.load_pem_x509_certificate)
    crl = _read(path, "crl_file", tls.crl_file, x509.load_pem_x509_crl)
    certificate = _read(path, "certificate_file", tls.certificate_file, x509.load_pem_x509_certificate)
    key = _read(path, "key_file", tls.key_file, lambda data: serialization.load_pem_private_key(data, None))
    if not crl.is_signature_valid(ca.public_key()):  # type: ignore[arg-type]
        _fail(path, "crl_file", tls.crl_file, "the revocation list is not signed by the CA of tls.ca_file")
    if crl.next_update_utc is not None and crl.next_update_utc < now:
        _fail(
            path,
            "crl_file",
            tls.crl_file,
            f"the revocation list lapsed on {crl.next_update_utc:%Y-%m-%d}; re-sign it with the CA",
        )
    try:
        certificate.verify_directly_issued_by(ca)
    except (ValueError, TypeError, InvalidSignature):
        _fail(path, "certificate_file", tls.certificate_file, "not issued by the CA of tls.ca_file")
    if not certificate.not_valid_before_utc <= now <= certificate.not_valid_after_utc:
        _fail(
            path,
            "certificate_file",
            tls.certificate_file,
            f"valid only from {certificate.not_valid_before_utc:%Y-%m-%d} to "
            f"{certificate.not_valid_after_utc:%Y-%m-%d}",
        )
    kind = config.node.role if config.is_observer else "hub"
    expected = Identity(Role.OBSERVER if config.is_observer else Role.HUB, config.node.name)
    try:
        identity = get_identity(certificate)
    except IdentityInvalid as error:
        _fail(path, "certificate_file", tls.certificate_file, error.message)
    if identity != expected:
        reason = f"it names {identity}, this {kind} is {expected}"
        _fail(path, "certificate_file", tls.certificate_file, reason)
    if crl.get_revoked_certificate_by_serial_number(certificate.serial_number) is not None:
        _fail(path, "certificate_file", tls.certificate_file, "the CA revoked this certificate")
    if key.public_key() != certificate.public_key():
        _fail(path, "key_file", tls.key_file, "this key is not the key of tls.certificate_file")


def _read(path: Path, field: str, file: Path, parse: Callable[[bytes], T]) -> T:
    try:
        data = file.read_bytes()
    except OSError as error:
        _fail(path, field, file, f"cannot read it: {error.strerror}")
    try:
        return parse(data)
    except (ValueError, TypeError) as error:
        _fail(path, field, file, f"not a PEM file of the right kind: {error}")


def _fail(path: Path, field: str, file: Path, reason: str) -> NoReturn:
    raise ConfigError(f"{path}: tls.{field} ({file}): {reason}")
