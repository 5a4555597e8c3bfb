"""The network's certificate authority: an ECDSA P-256 key, its self-signed certificate, and what it signs.

This module only builds X.509 objects; where they are written is ``files.py``.
The CA signs two kinds of leaf:

- a **hub** certificate, used by a hub's node both as a TLS server (its peer
  listener and its client API) and as a TLS client when it dials a peer, so
  it carries both the serverAuth and clientAuth extended key usages, and the
  DNS names and IP addresses people and peers reach it by;
- a **client** certificate (a bank, the regulator, an operator), clientAuth only.

Both name their holder as ``hubledger://<role>/<name>`` (``ledger.tls_identity``).
Issuing reads the wall clock through the ``now`` argument only, so tests can
make certificates that are expired or not yet valid.
"""

from __future__ import annotations

import datetime
import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from ledger.tls_identity import Identity, Role, validate_name

CA_VALID_DAYS_DEFAULT = 3650
LEAF_VALID_DAYS_DEFAULT = 365
SERVER_ROLES = (Role.HUB, Role.OBSERVER)  # they listen for TLS clients: server auth and host names
CRL_VALID_DAYS_DEFAULT = 365
IpAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


def utc_now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


def generate_tls_key() -> ec.EllipticCurvePrivateKey:
    """A fresh P-256 key for one certificate; never the validator's signing key."""
    return ec.generate_private_key(ec.SECP256R1())


@dataclass(frozen=True)
class Revocation:
    """One revoked certificate: its serial number and when it was revoked."""

    serial_number: int
    revoked_at: datetime.datetime


class CertificateAuthority:
    """The network CA: signs hub and client certificates and revocation lists."""

    def __init__(self, certificate: x509.Certificate, key: ec.EllipticCurvePrivateKey) -> None:
        if certificate.public_key() != key.public_key():
            raise ValueError("the CA key does not match the CA certificate")
        self.certificate = certificate
        self.key = key

    @classmethod
    def create(
        cls,
        network_name: str,
        *,
        now: datetime.datetime | None = None,
        valid_days: int = CA_VALID_DAYS_DEFAULT,
    ) -> CertificateAuthority:
        """A new CA with a fresh key and a self-signed certificate naming ``network_name``."""
        key = generate_tls_key()
        now = now or utc_now()
        name = x509.Name(
            [
                x509.NameAttribute(NameOID.ORGANIZATION_NAME, network_name),
                x509.NameAttribute(NameOID.COMMON_NAME, f"{network_name} network CA"),
            ]
        )
        public = key.public_key()
        certificate = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(public)
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=valid_days))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(_key_usage(ca=True), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)
            .sign(key, hashes.SHA256())
        )
        return cls(certificate, key)

    @property
    def network_name(self) -> str:
        names = self.certificate.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)
        return str(names[0].value) if names else ""

    def issue(
        self,
        identity: Identity,
        public_key: ec.EllipticCurvePublicKey,
        *,
        dns_names: Sequence[str] = (),
        ip_addresses: Sequence[IpAddress] = (),
        now: datetime.datetime | None = None,
        valid_days: int = LEAF_VALID_DAYS_DEFAULT,
    ) -> x509.Certificate:
        """Sign a leaf certificate for ``identity``; only servers (hubs and observers, whose read
        API is TLS) may carry DNS names and addresses."""
        validate_name(identity.name)
        is_server = identity.role in SERVER_ROLES
        if not is_server and (dns_names or ip_addresses):
            raise ValueError(f"only hub and observer certificates carry host names; {identity} is a client")
        now = now or utc_now()
        alternative_names: list[x509.GeneralName] = [x509.UniformResourceIdentifier(identity.uri)]
        alternative_names += [x509.DNSName(name) for name in dns_names]
        alternative_names += [x509.IPAddress(address) for address in ip_addresses]
        usages = [ExtendedKeyUsageOID.CLIENT_AUTH]
        if is_server:
            usages.insert(0, ExtendedKeyUsageOID.SERVER_AUTH)
        return (
            x509.CertificateBuilder()
            .subject_name(_leaf_name(self.network_name, identity))
            .issuer_name(self.certificate.subject)
            .public_key(public_key)
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(
                min(now + datetime.timedelta(days=valid_days), self.certificate.not_valid_after_utc)
            )
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(_key_usage(ca=False), critical=True)
            .add_extension(x509.ExtendedKeyUsage(usages), critical=False)
            .add_extension(x509.SubjectAlternativeName(alternative_names), critical=False)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
            .add_extension(_authority_key_identifier(self.certificate), critical=False)
            .sign(self.key, hashes.SHA256())
        )

    def build_crl(
        self,
        revocations: Sequence[Revocation],
        *,
        number: int,
        now: datetime.datetime | None = None,
        valid_days: int = CRL_VALID_DAYS_DEFAULT,
    ) -> x509.CertificateRevocationList:
        """A signed revocation list; ``number`` grows with every list so a newer one can be told apart."""
        now = now or utc_now()
        builder = (
            x509.CertificateRevocationListBuilder()
            .issuer_name(self.certificate.subject)
            .last_update(now - datetime.timedelta(minutes=5))
            .next_update(now + datetime.timedelta(days=valid_days))
            .add_extension(x509.CRLNumber(number), critical=False)
            .add_extension(_authority_key_identifier(self.certificate), critical=False)
        )
        for revocation in sorted(revocations, key=lambda item: item.serial_number):
            builder = builder.add_revoked_certificate(
                x509.RevokedCertificateBuilder()
                .serial_number(revocation.serial_number)
                .revocation_date(revocation.revoked_at)
                .build()
            )
        return builder.sign(self.key, hashes.SHA256())


def _leaf_name(network_name: str, identity: Identity) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, network_name),
            x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, identity.role.value),
            x509.NameAttribute(NameOID.COMMON_NAME, identity.name),
        ]
    )


def _key_usage(*, ca: bool) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=not ca,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=ca,
        crl_sign=ca,
        encipher_only=False,
        decipher_only=False,
    )


def _authority_key_identifier(ca_certificate: x509.Certificate) -> x509.AuthorityKeyIdentifier:
    subject_key = ca_certificate.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    return x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(subject_key)
