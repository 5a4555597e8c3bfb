"""Where a network's certificates live on disk, and the CA's record of what it issued and revoked.

Layout under a network directory (what ``netgen`` writes, what nodes read)::

    tls/ca.crt                     the network CA certificate: every node and client trusts it
    tls/crl.pem                    the CA's current revocation list: every node reads it
    tls/hubs/<hub>.crt, .key       a hub's certificate (server and peer client) and its key
    tls/clients/<stem>.crt, .key   a client certificate and key; <stem> is bank-<hub>,
                                   operator-<hub> or regulator

and, apart, in the offline directory (``ca-offline/`` beside them by default)::

    ca-offline/ca.key              the CA's private key: it belongs on a machine that is offline
    ca-offline/issued.json         every certificate the CA issued, and those it revoked
    ca-offline/README              says so, for whoever finds the directory

Keys are written with mode 0600, unencrypted PEM (PKCS#8), because a node
reads its TLS key at start without a person present.
"""

from __future__ import annotations

import datetime
import json
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from hubledger_tools.pki.authority import (
    LEAF_VALID_DAYS_DEFAULT,
    CertificateAuthority,
    IpAddress,
    Revocation,
    generate_tls_key,
    utc_now,
)
from ledger.tls_identity import Identity, Role

OFFLINE_README = """This directory holds the private key of the network's certificate authority.
It belongs offline: move it to a machine that is not on any network, and bring it
back only to issue, renew or revoke a certificate. Nodes never need it.
Anyone holding ca.key can issue a certificate that every hub of the network trusts.
"""


@dataclass(frozen=True)
class PkiLayout:
    """The paths of a network's certificate files; ``offline_dir`` defaults to ``<network>/ca-offline``."""

    network_dir: Path
    offline_dir: Path

    @classmethod
    def of(cls, network_dir: Path, offline_dir: Path | None = None) -> PkiLayout:
        return cls(network_dir, offline_dir if offline_dir is not None else network_dir / "ca-offline")

    @property
    def tls_dir(self) -> Path:
        return self.network_dir / "tls"

    @property
    def ca_certificate(self) -> Path:
        return self.tls_dir / "ca.crt"

    @property
    def crl(self) -> Path:
        return self.tls_dir / "crl.pem"

    @property
    def ca_key(self) -> Path:
        return self.offline_dir / "ca.key"

    @property
    def registry(self) -> Path:
        return self.offline_dir / "issued.json"

    def certificate(self, identity: Identity) -> Path:
        return self._leaf_stem(identity).with_suffix(".crt")

    def key(self, identity: Identity) -> Path:
        return self._leaf_stem(identity).with_suffix(".key")

    def _leaf_stem(self, identity: Identity) -> Path:
        if identity.role is Role.HUB:
            return self.tls_dir / "hubs" / identity.name
        if identity.role is Role.OBSERVER:
            return self.tls_dir / "observers" / identity.name
        stem = (
            identity.role.value
            if identity.name == identity.role.value
            else f"{identity.role}-{identity.name}"
        )
        return self.tls_dir / "clients" / stem


@dataclass(frozen=True)
class IssuedCertificate:
    """One line of the CA's record."""

    serial_number: int
    identity: str
    not_after: datetime.datetime
    revoked_at: datetime.datetime | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "serial_number": format(self.serial_number, "x"),
            "identity": self.identity,
            "not_after": self.not_after.isoformat(),
            "revoked_at": self.revoked_at.isoformat() if self.revoked_at else None,
        }

    @classmethod
    def from_json(cls, item: dict[str, Any]) -> IssuedCertificate:
        revoked = item.get("revoked_at")
        return cls(
            int(item["serial_number"], 16),
            str(item["identity"]),
            datetime.datetime.fromisoformat(item["not_after"]),
            datetime.datetime.fromisoformat(revoked) if revoked else None,
        )


class NetworkPki:
    """A network's CA together with its files: issue, revoke, and keep the revocation list current."""

    def __init__(self, layout: PkiLayout, authority: CertificateAuthority) -> None:
        self.layout = layout
        self.authority = authority

    @classmethod
    def create(
        cls, layout: PkiLayout, network_name: str, *, now: datetime.datetime | None = None
    ) -> NetworkPki:
        """A new CA: writes ca.crt, ca-offline/ca.key, its README, an empty record and an empty CRL."""
        if layout.ca_key.exists() or layout.ca_certificate.exists():
            raise FileExistsError(f"{layout.ca_certificate} or {layout.ca_key} already exists")
        authority = CertificateAuthority.create(network_name, now=now)
        layout.offline_dir.mkdir(parents=True, exist_ok=True)
        os.chmod(layout.offline_dir, 0o700)
        write_private_key(layout.ca_key, authority.key)
        (layout.offline_dir / "README").write_text(OFFLINE_README)
        write_certificate(layout.ca_certificate, authority.certificate)
        pki = cls(layout, authority)
        pki._save_registry([], crl_number=0)
        pki.write_crl(now=now)
        return pki

    @classmethod
    def load(cls, layout: PkiLayout) -> NetworkPki:
        """The CA of an existing network; needs the offline directory at hand."""
        certificate = x509.load_pem_x509_certificate(layout.ca_certificate.read_bytes())
        key = serialization.load_pem_private_key(layout.ca_key.read_bytes(), password=None)
        if not isinstance(key, ec.EllipticCurvePrivateKey):
            raise ValueError(f"{layout.ca_key} is not an elliptic-curve key")
        return cls(layout, CertificateAuthority(certificate, key))

    def issue(
        self,
        identity: Identity,
        *,
        dns_names: Sequence[str] = (),
        ip_addresses: Sequence[IpAddress] = (),
        now: datetime.datetime | None = None,
        valid_days: int = LEAF_VALID_DAYS_DEFAULT,
    ) -> x509.Certificate:
        """Issue ``identity`` a fresh key and certificate, write both (replacing older ones), record it."""
        key = generate_tls_key()
        certificate = self.authority.issue(
            identity,
            key.public_key(),
            dns_names=dns_names,
            ip_addresses=ip_addresses,
            now=now,
            valid_days=valid_days,
        )
        write_private_key(self.layout.key(identity), key)
        write_certificate(self.layout.certificate(identity), certificate)
        records, number = self.read_registry()
        records.append(
            IssuedCertificate(certificate.serial_number, identity.uri, certificate.not_valid_after_utc)
        )
        self._save_registry(records, crl_number=number)
        return certificate

    def revoke(
        self, serial_number: int, *, now: datetime.datetime | None = None
    ) -> x509.CertificateRevocationList:
        """Mark one issued certificate revoked and write a new CRL; raises KeyError for an unknown serial."""
        now = now or utc_now()
        records, number = self.read_registry()
        if not any(record.serial_number == serial_number for record in records):
            raise KeyError(f"the CA issued no certificate with serial number {serial_number:x}")
        records = [
            IssuedCertificate(
                record.serial_number, record.identity, record.not_after, record.revoked_at or now
            )
            if record.serial_number == serial_number
            else record
            for record in records
        ]
        self._save_registry(records, crl_number=number)
        return self.write_crl(now=now)

    def write_crl(self, *, now: datetime.datetime | None = None) -> x509.CertificateRevocationList:
        """Sign and write tls/crl.pem from the record, with the next CRL number."""
        records, number = self.read_registry()
        revocations = [Revocation(r.serial_number, r.revoked_at) for r in records if r.revoked_at is not None]
        crl = self.authority.build_crl(revocations, number=number + 1, now=now)
        self._save_registry(records, crl_number=number + 1)
        _write_atomically(self.layout.crl, crl.public_bytes(serialization.Encoding.PEM), mode=0o644)
        return crl

    def read_registry(self) -> tuple[list[IssuedCertificate], int]:
        """The issued certificates and the number of the last CRL written."""
        data = json.loads(self.layout.registry.read_text())
        return [IssuedCertificate.from_json(item) for item in data["issued"]], int(data["crl_number"])

    def _save_registry(self, records: list[IssuedCertificate], *, crl_number: int) -> None:
        text = json.dumps({"crl_number": crl_number, "issued": [r.to_json() for r in records]}, indent=2)
        _write_atomically(self.layout.registry, text.encode() + b"\n", mode=0o600)


def write_certificate(path: Path, certificate: x509.Certificate) -> None:
    _write_atomically(path, certificate.public_bytes(serialization.Encoding.PEM), mode=0o644)


def write_private_key(path: Path, key: ec.EllipticCurvePrivateKey) -> None:
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    _write_atomically(path, pem, mode=0o600)


def _write_atomically(path: Path, data: bytes, *, mode: int) -> None:
    """Write then rename, so a node reading the file (or reloading it) never sees half of it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.tmp")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(descriptor, "wb") as handle:
        handle.write(data)
    os.chmod(temporary, mode)
    os.replace(temporary, path)
