"""What an operator does with certificates after netgen: issue one, renew one, revoke one.

Each operation opens the CA from the offline directory the operator names
(``NetworkPki.load``) and writes into the network directory:

- **issue** gives a party (a new bank, a new operator, a hub at a new address)
  a fresh key and certificate;
- **renew** issues the same party again with the names and addresses of its
  current certificate and a new validity period; the old certificate stays
  valid until it expires or is revoked, so a hub can be given the new one
  and reload it (SIGHUP) before the old one is withdrawn;
- **revoke** withdraws every live certificate of a party (or one serial
  number) and rewrites ``tls/crl.pem``: hubs that reload it refuse the party
  at the next handshake and close its live links.

Bad input (no offline directory, an unknown party, nothing to revoke) raises
``CertificateCommandError`` with a sentence saying what to do.
"""

from __future__ import annotations

import datetime
import ipaddress
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509

from hubledger_tools.pki.authority import LEAF_VALID_DAYS_DEFAULT, IpAddress
from hubledger_tools.pki.files import IssuedCertificate, NetworkPki, PkiLayout
from ledger.errors import LedgerError
from ledger.tls_identity import Identity, IdentityInvalid, Role, validate_name


class CertificateCommandError(LedgerError):
    """Raised when a certificate operation cannot be done as asked; the message says why."""

    code = "BAD_CERTIFICATE_COMMAND"


@dataclass(frozen=True)
class HostNames:
    """The DNS names and addresses a hub certificate carries."""

    dns_names: tuple[str, ...] = ()
    ip_addresses: tuple[IpAddress, ...] = ()


def parse_identity(role: str, name: str) -> Identity:
    """The party ``role`` ``name`` (``hub beijing``); raises CertificateCommandError when unknown."""
    try:
        identity = Identity(Role(role), name)
        validate_name(name)
    except ValueError:
        known = ", ".join(item.value for item in Role)
        raise CertificateCommandError(f"unknown role {role!r}: one of {known}") from None
    except IdentityInvalid as error:
        raise CertificateCommandError(error.message) from None
    return identity


def open_pki(network_dir: Path, offline_dir: Path) -> NetworkPki:
    """The network's CA, its key read from ``offline_dir``."""
    layout = PkiLayout.of(network_dir, offline_dir)
    if not layout.ca_certificate.is_file():
        raise CertificateCommandError(f"{network_dir} holds no network CA certificate (tls/ca.crt)")
    if not layout.ca_key.is_file() or not layout.registry.is_file():
        raise CertificateCommandError(
            f"{offline_dir} holds no CA key and record (ca.key, issued.json): "
            "name the offline directory netgen wrote (ca-offline/) with --ca-offline"
        )
    try:
        return NetworkPki.load(layout)
    except ValueError as error:
        raise CertificateCommandError(f"cannot open the CA in {offline_dir}: {error}") from None


def issue_certificate(
    pki: NetworkPki, identity: Identity, names: HostNames, *, valid_days: int = LEAF_VALID_DAYS_DEFAULT
) -> x509.Certificate:
    """A fresh key and certificate for ``identity``, written where the network's nodes and clients look."""
    if valid_days < 1:
        raise CertificateCommandError("--days must be at least 1")
    try:
        return pki.issue(
            identity, dns_names=names.dns_names, ip_addresses=names.ip_addresses, valid_days=valid_days
        )
    except ValueError as error:
        raise CertificateCommandError(str(error)) from None


def renew_certificate(
    pki: NetworkPki, identity: Identity, *, valid_days: int = LEAF_VALID_DAYS_DEFAULT
) -> tuple[x509.Certificate, x509.Certificate]:
    """(old, new): ``identity`` issued again with its current certificate's names, from today."""
    path = pki.layout.certificate(identity)
    try:
        old = x509.load_pem_x509_certificate(path.read_bytes())
    except (OSError, ValueError):
        raise CertificateCommandError(
            f"{identity} has no certificate at {path} to renew: issue one with `hubledger cert issue`"
        ) from None
    return old, issue_certificate(pki, identity, get_host_names(old), valid_days=valid_days)


def get_host_names(certificate: x509.Certificate) -> HostNames:
    try:
        names = certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return HostNames()
    addresses = [
        address
        for address in names.get_values_for_type(x509.IPAddress)
        if isinstance(address, ipaddress.IPv4Address | ipaddress.IPv6Address)
    ]
    return HostNames(tuple(names.get_values_for_type(x509.DNSName)), tuple(addresses))


def revoke_certificates(
    pki: NetworkPki, *, identity: Identity | None = None, serial_number: int | None = None
) -> list[IssuedCertificate]:
    """Revoke every live certificate of ``identity``, or the one ``serial_number``; returns them."""
    now = datetime.datetime.now(datetime.UTC)
    records, _ = pki.read_registry()
    chosen = [
        record
        for record in records
        if record.revoked_at is None
        and record.not_after > now
        and (identity is None or record.identity == identity.uri)
        and (serial_number is None or record.serial_number == serial_number)
    ]
    if not chosen:
        what = identity.uri if identity is not None else f"serial number {serial_number or 0:x}"
        raise CertificateCommandError(f"the CA record holds no live certificate of {what} to revoke")
    for record in chosen:
        pki.revoke(record.serial_number, now=now)
    return chosen
