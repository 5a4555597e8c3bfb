"""netgen with one host per hub: each hub listens on its own address, its peers dial it where
the layout says, and the layout's consensus timeouts reach every config."""

from __future__ import annotations

import ipaddress
from pathlib import Path

from cryptography import x509

from hubledger_tools.netgen import NetworkLayout, generate_network
from hubledger_tools.pki.lifecycle import get_host_names
from hubledger_tools.wan.delays import WAN_CONSENSUS
from node.config import load_config

HUBS = ["beijing", "shanghai", "shenzhen"]
OWN = {"beijing": "198.18.0.2", "shanghai": "198.18.0.6", "shenzhen": "198.18.0.10"}
DIALLED = {"beijing": "198.18.0.1", "shanghai": "198.18.0.5", "shenzhen": "198.18.0.9"}


def test_each_hub_listens_on_its_host_and_is_dialled_at_its_peer_host(tmp_path: Path) -> None:
    layout = NetworkLayout(
        api_port_base=8101,
        p2p_port_base=9101,
        fixed_ports=True,
        hub_hosts=OWN,
        peer_hosts=DIALLED,
        consensus=WAN_CONSENSUS,
    )
    generate_network(HUBS, tmp_path, layout=layout)
    for hub in HUBS:
        config = load_config(tmp_path / f"{hub}.toml", environ={})
        assert (config.api.host, config.p2p.host) == (OWN[hub], OWN[hub])
        assert config.p2p.peers == {peer: f"wss://{DIALLED[peer]}:9101/p2p" for peer in HUBS if peer != hub}
        assert config.consensus.view_timeout_ms == WAN_CONSENSUS["view_timeout_ms"]
        assert config.consensus.request_timeout_ms == WAN_CONSENSUS["request_timeout_ms"]


def test_each_hub_certificate_names_where_clients_and_peers_reach_it(tmp_path: Path) -> None:
    """Clients check the API's address against the certificate (the hub's own address); peers check
    only its hub identity, but the address they dial (a relay's) is named too."""
    layout = NetworkLayout(fixed_ports=True, hub_hosts=OWN, peer_hosts=DIALLED)
    generate_network(HUBS, tmp_path, layout=layout)
    for hub in HUBS:
        certificate = x509.load_pem_x509_certificate((tmp_path / "tls" / "hubs" / f"{hub}.crt").read_bytes())
        addresses = get_host_names(certificate).ip_addresses
        assert ipaddress.ip_address(OWN[hub]) in addresses
        assert ipaddress.ip_address(DIALLED[hub]) in addresses
        others = [OWN[other] for other in HUBS if other != hub] + [DIALLED[o] for o in HUBS if o != hub]
        assert not any(ipaddress.ip_address(address) in addresses for address in others)


def test_hubs_without_their_own_host_keep_the_shared_defaults(tmp_path: Path) -> None:
    generate_network(HUBS, tmp_path, layout=NetworkLayout(api_port_base=8101, p2p_port_base=9101))
    config = load_config(tmp_path / "shanghai.toml", environ={})
    assert (config.api.host, config.api.port, config.p2p.port) == ("127.0.0.1", 8102, 9102)
    assert config.p2p.peers["beijing"] == "wss://127.0.0.1:9101/p2p"
    assert (config.consensus.view_timeout_ms, config.consensus.batch_delay_ms) == (2000, 20)
