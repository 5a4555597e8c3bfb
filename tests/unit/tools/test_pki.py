"""The network PKI: the files it writes, and that OpenSSL accepts and refuses what it should."""

from __future__ import annotations

import datetime
import ipaddress
import ssl
import stat
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID

from hubledger_tools.pki import NetworkPki, PkiLayout
from ledger.tls_identity import Identity, IdentityInvalid, Role, get_identity
from tests.memory_tls import handshake

BEIJING = Identity(Role.HUB, "beijing")
BANK = Identity(Role.BANK, "beijing")


@pytest.fixture
def pki(tmp_path: Path) -> NetworkPki:
    return NetworkPki.create(PkiLayout.of(tmp_path), "hubledger-test")


def _contexts(pki: NetworkPki, client: Identity) -> tuple[ssl.SSLContext, ssl.SSLContext]:
    layout = pki.layout
    server = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server.minimum_version = ssl.TLSVersion.TLSv1_3
    server.load_cert_chain(layout.certificate(BEIJING), layout.key(BEIJING))
    server.load_verify_locations(layout.ca_certificate)
    server.load_verify_locations(layout.crl)
    server.verify_flags |= ssl.VERIFY_CRL_CHECK_LEAF
    server.verify_mode = ssl.CERT_REQUIRED
    context = ssl.create_default_context(cafile=layout.ca_certificate)
    context.load_cert_chain(layout.certificate(client), layout.key(client))
    return server, context


def test_the_ca_is_a_p256_self_signed_authority_with_its_key_written_apart(pki: NetworkPki) -> None:
    layout = pki.layout
    ca = x509.load_pem_x509_certificate(layout.ca_certificate.read_bytes())
    assert isinstance(ca.public_key(), ec.EllipticCurvePublicKey)
    assert isinstance(ca.public_key().curve, ec.SECP256R1)  # type: ignore[union-attr]
    ca.verify_directly_issued_by(ca)
    assert ca.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    assert layout.ca_key.parent == layout.network_dir / "ca-offline"
    assert not any(path.name == "ca.key" for path in layout.tls_dir.rglob("*"))
    assert "offline" in (layout.offline_dir / "README").read_text()
    assert stat.S_IMODE(layout.ca_key.stat().st_mode) == 0o600


def test_a_hub_certificate_serves_its_names_and_addresses_and_names_its_hub(pki: NetworkPki) -> None:
    certificate = pki.issue(BEIJING, dns_names=["beijing"], ip_addresses=[ipaddress.ip_address("127.0.0.1")])
    assert get_identity(certificate) == BEIJING
    usages = certificate.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert set(usages) == {ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH}
    assert stat.S_IMODE(pki.layout.key(BEIJING).stat().st_mode) == 0o600
    pki.issue(BANK)
    server, client = _contexts(pki, BANK)
    handshake(server, client, "beijing")
    handshake(server, client, "127.0.0.1")
    with pytest.raises(ssl.SSLCertVerificationError, match="mismatch"):
        handshake(server, client, "shanghai")


def test_a_revoked_client_certificate_is_refused_by_openssl_with_the_new_crl(pki: NetworkPki) -> None:
    pki.issue(BEIJING, dns_names=["beijing"])
    revoked = pki.issue(BANK)
    server, client = _contexts(pki, BANK)
    handshake(server, client, "beijing")
    pki.revoke(revoked.serial_number)
    server, client = _contexts(pki, BANK)
    with pytest.raises(ssl.SSLError):
        handshake(server, client, "beijing")
    records, crl_number = pki.read_registry()
    assert [record.revoked_at is not None for record in records] == [False, True]
    assert crl_number == 2
    crl = x509.load_pem_x509_crl(pki.layout.crl.read_bytes())
    assert crl.get_revoked_certificate_by_serial_number(revoked.serial_number) is not None


def test_a_certificate_from_another_ca_is_refused(pki: NetworkPki, tmp_path: Path) -> None:
    pki.issue(BEIJING, dns_names=["beijing"])
    other = NetworkPki.create(PkiLayout.of(tmp_path / "other"), "elsewhere")
    other.issue(BANK)
    server, _ = _contexts(pki, BEIJING)
    client = ssl.create_default_context(cafile=pki.layout.ca_certificate)
    client.load_cert_chain(other.layout.certificate(BANK), other.layout.key(BANK))
    with pytest.raises(ssl.SSLError):
        handshake(server, client, "beijing")


def test_an_expired_certificate_is_refused(pki: NetworkPki) -> None:
    pki.issue(BEIJING, dns_names=["beijing"])
    long_ago = datetime.datetime.now(datetime.UTC) - datetime.timedelta(days=30)
    pki.issue(BANK, now=long_ago, valid_days=1)
    server, client = _contexts(pki, BANK)
    with pytest.raises(ssl.SSLError):
        handshake(server, client, "beijing")


def test_client_certificates_carry_no_host_names_and_cannot_serve(pki: NetworkPki) -> None:
    with pytest.raises(ValueError, match="only hub and observer certificates"):
        pki.issue(BANK, dns_names=["beijing"])
    certificate = pki.issue(Identity(Role.REGULATOR, "regulator"))
    assert pki.layout.certificate(Identity(Role.REGULATOR, "regulator")).name == "regulator.crt"
    usages = certificate.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert list(usages) == [ExtendedKeyUsageOID.CLIENT_AUTH]


def test_renewing_gives_a_new_key_and_serial_and_the_record_survives_a_reload(pki: NetworkPki) -> None:
    first = pki.issue(Identity(Role.OPERATOR, "beijing"))
    second = pki.issue(Identity(Role.OPERATOR, "beijing"))
    assert first.serial_number != second.serial_number
    assert first.public_key() != second.public_key()
    reloaded = NetworkPki.load(pki.layout)
    records, _ = reloaded.read_registry()
    assert [record.identity for record in records] == ["hubledger://operator/beijing"] * 2
    with pytest.raises(KeyError):
        reloaded.revoke(12345)
    with pytest.raises(FileExistsError):
        NetworkPki.create(pki.layout, "again")


@pytest.mark.parametrize(
    "uri", ["https://hub/beijing", "hubledger://mayor/beijing", "hubledger://hub/Beijing", "hubledger://hub/"]
)
def test_an_identity_that_is_not_ours_is_refused(pki: NetworkPki, uri: str) -> None:
    ca = pki.authority
    builder = (
        x509.CertificateBuilder().subject_name(ca.certificate.subject).issuer_name(ca.certificate.subject)
    )
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        builder.public_key(ca.key.public_key())
        .serial_number(1)
        .not_valid_before(now)
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.UniformResourceIdentifier(uri)]), critical=False)
        .sign(ca.key, hashes.SHA256())
    )
    with pytest.raises(IdentityInvalid):
        get_identity(certificate)
