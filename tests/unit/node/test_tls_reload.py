"""A listener keeps the context it started with, yet new handshakes use the newest certificates and CRL."""

from __future__ import annotations

import datetime
import ssl
from pathlib import Path

import pytest
import structlog

from hubledger_tools.netgen import generate_network
from hubledger_tools.pki import NetworkPki, PkiLayout
from hubledger_tools.pki.lifecycle import renew_certificate, revoke_certificates
from ledger.tls_identity import Identity, Role
from node.certificate_expiry import EXPIRY_WARNING_S, CertificateExpiry
from node.tls_reload import serve_current
from p2p.tls import TlsFiles, make_client_context, make_server_context
from tests.memory_tls import handshake

BEIJING = Identity(Role.HUB, "beijing")
SHANGHAI = Identity(Role.HUB, "shanghai")


@pytest.fixture
def pki(tmp_path: Path) -> NetworkPki:
    generate_network(["beijing", "shanghai", "shenzhen", "hangzhou"], tmp_path)
    return NetworkPki.load(PkiLayout.of(tmp_path))


def files_of(pki: NetworkPki, identity: Identity) -> TlsFiles:
    layout = pki.layout
    return TlsFiles(layout.ca_certificate, layout.certificate(identity), layout.key(identity), layout.crl)


def test_a_renewed_certificate_is_presented_by_the_listener_that_started_with_the_old(
    pki: NetworkPki,
) -> None:
    listening = make_server_context(files_of(pki, BEIJING), client_certificate_required=True)
    current = listening
    serve_current(listening, lambda: current)
    client = make_client_context(files_of(pki, SHANGHAI))
    old = handshake(listening, client)
    _, renewed = renew_certificate(pki, BEIJING)
    assert handshake(listening, client).serial_number == old.serial_number  # nothing reloaded yet
    current = make_server_context(files_of(pki, BEIJING), client_certificate_required=True)
    assert handshake(listening, client).serial_number == renewed.serial_number != old.serial_number


def test_a_peer_revoked_after_the_listener_started_is_refused_once_the_new_crl_is_current(
    pki: NetworkPki,
) -> None:
    listening = make_server_context(files_of(pki, BEIJING), client_certificate_required=True)
    current = listening
    serve_current(listening, lambda: current)
    client = make_client_context(files_of(pki, SHANGHAI))
    handshake(listening, client)
    revoke_certificates(pki, identity=SHANGHAI)
    handshake(listening, client)  # the listener still holds the old list: an operator must reload
    current = make_server_context(files_of(pki, BEIJING), client_certificate_required=True)
    with pytest.raises(ssl.SSLError):
        handshake(listening, client)


def test_expiry_seconds_per_certificate_and_a_warning_within_thirty_days(pki: NetworkPki) -> None:
    soon = datetime.datetime.now(datetime.UTC) - datetime.timedelta(days=360)
    pki.issue(BEIJING, dns_names=["beijing"], now=soon, valid_days=365)  # five days left
    expiry = CertificateExpiry(files_of(pki, BEIJING))
    left = expiry.get_seconds_left()
    assert set(left) == {"api", "p2p", "ca"}
    assert 4 * 86_400 < left["p2p"] == left["api"] <= 5 * 86_400
    assert left["ca"] > 3000 * 86_400
    with structlog.testing.capture_logs() as logs:
        assert expiry.warn_if_expiring() == ["api", "p2p"]
    assert [entry["certificate"] for entry in logs if entry["event"] == "certificate_expires_soon"] == [
        "api",
        "p2p",
    ]
    later = datetime.datetime.now(datetime.UTC) + datetime.timedelta(seconds=-EXPIRY_WARNING_S * 20)
    assert expiry.warn_if_expiring(later) == []
    samples = {sample.labels["certificate"]: sample.value for sample in next(expiry.collect()).samples}
    assert samples["p2p"] == pytest.approx(left["p2p"], abs=5)


def test_a_node_serving_the_api_in_plain_http_exports_no_api_certificate(pki: NetworkPki) -> None:
    assert set(CertificateExpiry(files_of(pki, BEIJING), api_served=False).get_seconds_left()) == {
        "p2p",
        "ca",
    }
