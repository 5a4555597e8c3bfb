"""Real hubs take a renewed certificate and a new revocation list without a restart.

Renewed: after SIGHUP, a new connection to the hub (its API and its peer port)
is shown the new certificate, by the same process, and the network commits.
Revoked: once the other hubs read the new list (here, by watching the file),
the revoked hub's live links are closed, its handshakes refused and counted,
and the three others go on committing without it.
"""

from __future__ import annotations

import datetime
import ipaddress
import json
import signal
from collections.abc import Iterator
from functools import partial
from pathlib import Path

import pytest

from hubledger_tools.pki import NetworkPki, PkiLayout
from hubledger_tools.pki.lifecycle import renew_certificate, revoke_certificates
from ledger.tls_identity import Identity, Role
from tests.integration.certificates.probe import Samples, get_presented_certificate, get_sample, scrape
from tests.integration.harness import LocalNetwork, Submitter, wait_committed_on, wait_for

HUBS = ["beijing", "shanghai", "shenzhen", "hangzhou"]


@pytest.fixture
def network(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[LocalNetwork]:
    network = LocalNetwork(tmp_path / "net", HUBS, env=getattr(request, "param", None))
    network.start_all()
    yield network
    network.stop_all()


def p2p_port(network: LocalNetwork, hub: str) -> int:
    return network.api_ports[hub] + len(network.hubs)  # the harness puts the peer ports after the API's


def peers_linked(network: LocalNetwork, hub: str) -> float:
    return get_sample(scrape(network, hub), "hubledger_peers_connected")


def is_linked_to(network: LocalNetwork, hub: str, peers: int) -> bool:
    return peers_linked(network, hub) == peers


def get_counted_reload(network: LocalNetwork, hub: str) -> Samples | None:
    """``hub``'s metrics once they count a loaded reload."""
    samples = scrape(network, hub)
    return samples if get_sample(samples, "hubledger_tls_reloads_total", outcome="loaded") >= 1 else None


def has_refused_shanghai(network: LocalNetwork, hub: str) -> bool:
    """Linked to two peers only, and has refused a revoked certificate (inbound or dialling out)."""
    samples = scrape(network, hub)
    refused = sum(
        get_sample(samples, "hubledger_p2p_handshakes_refused_total", reason=reason)
        for reason in ("tls_revoked", "outbound_tls_revoked")
    )
    return get_sample(samples, "hubledger_peers_connected") == 2 and refused >= 1


@pytest.mark.parametrize("network", [{"HUBLEDGER_TLS_WATCH_INTERVAL_MS": "0"}], indirect=True)
def test_a_renewed_certificate_is_served_after_sighup_without_a_restart(network: LocalNetwork) -> None:
    pki = NetworkPki.load(PkiLayout.of(network.directory))
    peer = network.client_files(Identity(Role.HUB, "shanghai"))
    old_api = get_presented_certificate(network.api_ports["beijing"], network.ca_file)
    old, new = renew_certificate(pki, Identity(Role.HUB, "beijing"))
    assert old_api.serial_number == old.serial_number
    # Nothing reads the files until told: the old certificate is still what a connection sees.
    assert get_presented_certificate(p2p_port(network, "beijing"), network.ca_file, peer) == old
    process = network.processes["beijing"]
    process.send_signal(signal.SIGHUP)
    wait_for(
        lambda: get_presented_certificate(network.api_ports["beijing"], network.ca_file) == new,
        what="beijing's API to present the renewed certificate",
    )
    assert get_presented_certificate(p2p_port(network, "beijing"), network.ca_file, peer) == new
    assert network.processes["beijing"] is process and process.poll() is None
    # The new certificate is served as soon as it is loaded; the reload is counted only once the
    # peer links have been told (node/tls_reload.py), which may come a moment later.
    samples = wait_for(partial(get_counted_reload, network, "beijing"), what="beijing to count the reload")
    assert get_sample(samples, "hubledger_tls_reloads_total", outcome="loaded") == 1
    expiry = get_sample(samples, "hubledger_certificate_expiry_seconds", certificate="p2p")
    assert expiry > (new.not_valid_after_utc - old.not_valid_after_utc).total_seconds() >= 0
    wait_for(lambda: peers_linked(network, "beijing") == 3, what="beijing's links to handshake again")
    submitter = Submitter(network, "bank-beijing", "bank-shanghai")
    wait_committed_on(network, "shanghai", submitter.transfer("beijing"))


@pytest.mark.parametrize("network", [{"HUBLEDGER_TLS_WATCH_INTERVAL_MS": "1000"}], indirect=True)
def test_a_revoked_hub_is_cut_off_and_refused_once_the_others_read_the_new_list(
    network: LocalNetwork,
) -> None:
    for hub in HUBS:
        wait_for(partial(is_linked_to, network, hub, 3), what=f"{hub} linked to every peer")
    pki = NetworkPki.load(PkiLayout.of(network.directory))
    revoke_certificates(pki, identity=Identity(Role.HUB, "shanghai"))  # the hubs share tls/crl.pem here
    others = ["beijing", "shenzhen", "hangzhou"]
    for hub in others:
        wait_for(partial(has_refused_shanghai, network, hub), what=f"{hub} to drop shanghai and refuse it")
    # shanghai's own check refuses the list that revokes it: it keeps running, refused by everyone.
    # Its watch reads the files on its own schedule, which may come after the others have acted.
    wait_for(
        lambda: get_sample(scrape(network, "shanghai"), "hubledger_tls_reloads_total", outcome="failed") >= 1,
        what="shanghai's watch to read the list that revokes it and refuse it",
    )
    assert network.processes["shanghai"].poll() is None
    assert "tls_reload_failed" in network.log_text("shanghai")
    submitter = Submitter(network, "bank-beijing", "bank-shenzhen")
    transaction = submitter.transfer("beijing")
    for hub in others:
        wait_committed_on(network, hub, transaction)
        assert peers_linked(network, hub) == 2


def test_a_hub_whose_certificate_expires_within_30_days_warns_at_start_and_shows_it(tmp_path: Path) -> None:
    network = LocalNetwork(tmp_path / "net", ["beijing"])
    pki = NetworkPki.load(PkiLayout.of(network.directory))
    a_year_ago = datetime.datetime.now(datetime.UTC) - datetime.timedelta(days=360)
    renewed = pki.issue(
        Identity(Role.HUB, "beijing"),
        dns_names=["localhost"],
        ip_addresses=[ipaddress.ip_address("127.0.0.1")],
        now=a_year_ago,
        valid_days=365,
    )
    network.start("beijing")
    try:
        samples = scrape(network, "beijing")
        left_s = get_sample(samples, "hubledger_certificate_expiry_seconds", certificate="api")
        assert left_s == pytest.approx(
            (renewed.not_valid_after_utc - datetime.datetime.now(datetime.UTC)).total_seconds(), abs=60
        )
        assert get_sample(samples, "hubledger_certificate_expiry_seconds", certificate="ca") > 3000 * 86_400
        warnings = [
            line for line in network.log_text("beijing").splitlines() if "certificate_expires_soon" in line
        ]
        assert {json.loads(line)["certificate"] for line in warnings} == {"api", "p2p"}
    finally:
        network.stop_all()
