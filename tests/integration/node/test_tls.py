"""A generated network speaks only TLS: plaintext and strangers are refused and counted, on real processes.

Four hubs run as separate processes, as ``make run`` starts them. A plain
``ws://`` connection to a hub's peer endpoint and a plain ``http://`` request
to its client API are refused at the TLS handshake, and so is a client whose
certificate comes from another CA; each is counted by reason in /metrics,
and the network goes on committing. A hub whose [tls] files are wrong does
not start, and says which file and field, and why.
"""

from __future__ import annotations

import http.client
import re
import ssl
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import aiohttp
import pytest

from hubledger_client.tls import make_client_context
from hubledger_tools.pki import NetworkPki, PkiLayout
from ledger.tls_identity import Identity, Role
from tests.integration.harness import LocalNetwork, Submitter, wait_committed_on, wait_for

HUBS = ["beijing", "shanghai", "shenzhen", "hangzhou"]
TARGET = "shanghai"


@pytest.fixture(scope="module")
def network(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalNetwork]:
    network = LocalNetwork(tmp_path_factory.mktemp("tls") / "net", HUBS)
    network.start_all()
    wait_for(lambda: all(len(network.status(h)["connected_peers"]) == 3 for h in HUBS), what="full mesh")
    yield network
    network.stop_all()


def get_refusals(network: LocalNetwork, metric: str) -> dict[str, float]:
    """The counts of ``metric`` (hubledger_*_total) at TARGET, by reason."""
    connection = http.client.HTTPSConnection("127.0.0.1", network.api_ports[TARGET], context=network.context)
    connection.request("GET", "/metrics")
    text = connection.getresponse().read().decode()
    pattern = re.compile(rf'^{metric}_total{{reason="([a-z_]+)"}} ([0-9.]+)$', re.MULTILINE)
    return {reason: float(count) for reason, count in pattern.findall(text)}


def peer_port(network: LocalNetwork, hub: str) -> int:
    return network.api_ports[hub] + len(HUBS)  # the harness puts peer ports after the API ports


def test_plain_http_to_the_api_is_refused_and_counted(network: LocalNetwork) -> None:
    before = get_refusals(network, "hubledger_api_tls_refused").get("tls_plaintext", 0)
    connection = http.client.HTTPConnection("127.0.0.1", network.api_ports[TARGET], timeout=10)
    with pytest.raises((http.client.HTTPException, ConnectionError)):
        connection.request("GET", "/v1/status")
        connection.getresponse()
    wait_for(
        lambda: get_refusals(network, "hubledger_api_tls_refused").get("tls_plaintext", 0) > before,
        what="the plaintext request counted",
    )


async def test_a_plain_ws_peer_connection_is_refused_and_counted(network: LocalNetwork) -> None:
    before = get_refusals(network, "hubledger_p2p_handshakes_refused").get("tls_plaintext", 0)
    async with aiohttp.ClientSession() as session:
        with pytest.raises(aiohttp.ClientError):
            async with session.ws_connect(f"ws://127.0.0.1:{peer_port(network, TARGET)}/p2p"):
                pass
    wait_for(
        lambda: get_refusals(network, "hubledger_p2p_handshakes_refused").get("tls_plaintext", 0) > before,
        what="the plaintext peer connection counted",
    )


def test_a_client_certificate_of_another_ca_is_refused_and_the_network_goes_on(
    network: LocalNetwork, tmp_path: Path
) -> None:
    other = NetworkPki.create(PkiLayout.of(tmp_path / "other"), "elsewhere")
    bank = Identity(Role.BANK, TARGET)
    other.issue(bank)
    context = make_client_context(
        network.ca_file, certificate_file=other.layout.certificate(bank), key_file=other.layout.key(bank)
    )
    connection = http.client.HTTPSConnection("127.0.0.1", network.api_ports[TARGET], context=context)
    with pytest.raises((ssl.SSLError, ConnectionError, http.client.HTTPException)):
        connection.request("GET", "/v1/status")
        connection.getresponse()
    wait_for(
        lambda: get_refusals(network, "hubledger_api_tls_refused").get("tls_unknown_ca", 0) >= 1,
        what="the foreign certificate counted",
    )
    submitter = Submitter(network, "bank-beijing", "bank-shanghai")
    for hub in HUBS:
        wait_committed_on(network, hub, submitter.transfer(TARGET))
    assert all(len(network.status(hub)["connected_peers"]) == 3 for hub in HUBS)


def test_a_hub_with_the_certificate_of_another_hub_does_not_start(network: LocalNetwork) -> None:
    config = network.directory / "beijing-wrong.toml"
    text = (network.directory / "beijing.toml").read_text()
    config.write_text(text.replace("tls/hubs/beijing.", "tls/hubs/shanghai."))
    finished = subprocess.run(
        [sys.executable, "-m", "hubledger_tools.cli", "node", "--config", str(config)],
        capture_output=True, text=True, timeout=60, check=False,
    )
    assert finished.returncode == 2
    assert "tls.certificate_file" in finished.stderr
    assert "names hubledger://hub/shanghai, this hub is hubledger://hub/beijing" in finished.stderr
    assert "Traceback" not in finished.stderr
