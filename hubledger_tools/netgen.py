"""Generate a network: validator and account keys, the genesis file, one node config per hub, and its PKI.

An operator who wants other hubs or addresses changes the arguments of one
command instead of editing a file per hub. Keys are written with mode 0600.
The network's CA (hubledger_tools/pki) is made here: its certificate in
tls/ca.crt, its key apart in ca-offline/ (it belongs offline), each hub's
TLS certificate and key (tls/hubs/), and client certificates for each hub's
bank, each hub's operator and the regulator (tls/clients/). The regulator's
observer gets its certificate (tls/observers/) and its config,
``observer-regulator.toml``: a node that follows and verifies the chain
without voting (docs/operators.md).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from hubledger_tools.pki import NetworkPki, PkiLayout
from ledger.genesis import Genesis, GenesisAccount, Validator
from ledger.keys import PrivateKey
from ledger.tls_identity import Identity, Role
from ledger.types import TimestampMs
from node.errors import ConfigError

BANK_OPENING_BALANCE = 10_000_000_000  # fen: 100 million yuan per hub bank at genesis
CENTRAL_BANK_HUB_DEFAULT = "beijing"
CONSENSUS_DEFAULTS = {"batch_delay_ms": 20, "view_timeout_ms": 2000}
OBSERVER_NAME = "regulator"  # the regulator's observer: observer-regulator.toml


@dataclass(frozen=True)
class NetworkLayout:
    """Where each hub listens; the defaults suit one machine (localnet)."""

    api_host: str = "127.0.0.1"
    api_port_base: int = 8101
    p2p_host: str = "127.0.0.1"
    p2p_port_base: int = 9101
    peer_host_template: str = "127.0.0.1"  # "{hub}" for docker compose service names
    fixed_ports: bool = False  # every hub on the base ports (one container each)
    # One host per hub: the address each hub listens on (api and p2p), and the address its
    # peers dial it at when that differs (a relay or a NAT in between). Hubs not named here
    # use api_host, p2p_host and peer_host_template.
    hub_hosts: Mapping[str, str] = field(default_factory=dict)
    peer_hosts: Mapping[str, str] = field(default_factory=dict)
    consensus: Mapping[str, int] = field(default_factory=dict)  # [consensus] beyond the defaults
    observer_api_port_base: int = 8100  # the regulator's observer's client API (fixed_ports: api_port_base)

    def observer_api_port(self) -> int:
        return self.api_port_base if self.fixed_ports else self.observer_api_port_base

    def api_port(self, index: int) -> int:
        return self.api_port_base if self.fixed_ports else self.api_port_base + index

    def p2p_port(self, index: int) -> int:
        return self.p2p_port_base if self.fixed_ports else self.p2p_port_base + index

    def get_peer_host(self, hub: str) -> str:
        """Where the other hubs dial ``hub``."""
        return self.peer_hosts.get(hub) or self.hub_hosts.get(hub) or self.peer_host_template.format(hub=hub)

    def get_api_host(self, hub: str) -> str:
        return self.hub_hosts.get(hub, self.api_host)

    def get_p2p_host(self, hub: str) -> str:
        return self.hub_hosts.get(hub, self.p2p_host)

    def get_consensus(self) -> dict[str, int]:
        return {**CONSENSUS_DEFAULTS, **self.consensus}

    def get_host_names(self, hub: str) -> list[str]:
        """What a hub's certificate must name: where peers dial it (a relay's address when one is in
        between), where clients reach its API, and this machine. Clients check the name; peers check
        only the hub identity URI (p2p/tls.py), but a certificate that names the dialled address
        stays right for any verifier that checks host names too."""
        names = [
            self.get_peer_host(hub),
            self.get_api_host(hub),
            self.get_p2p_host(hub),
            "localhost",
            "127.0.0.1",
        ]
        return sorted({name for name in names if name not in ("0.0.0.0", "::")})


def parse_hubs(text: str) -> list[str]:
    hubs = [hub.strip() for hub in text.split(",") if hub.strip()]
    if not hubs:
        raise ConfigError("--hubs names no hub; give a comma-separated list such as beijing,shanghai")
    for hub in hubs:
        if not hub.replace("-", "").isalnum() or not hub.islower():
            raise ConfigError(f"hub name {hub!r} must be lowercase letters, digits and dashes")
    if len(set(hubs)) != len(hubs):
        raise ConfigError("--hubs names a hub twice")
    return hubs


def generate_network(
    hubs: list[str],
    out: Path,
    *,
    chain_id: str = "hubledger-local",
    genesis_time_ms: int = 1_767_225_600_000,
    layout: NetworkLayout | None = None,
) -> Genesis:
    """Write keys, genesis.json and <hub>.toml for each hub into ``out``; refuses to overwrite."""
    layout = layout or NetworkLayout()
    if (out / "genesis.json").exists():
        raise ConfigError(f"{out} already holds a network (genesis.json); choose a new directory")
    for folder in ("keys", "accounts"):
        (out / folder).mkdir(parents=True, exist_ok=True)
    validators = tuple(Validator(hub, _new_key(out / "keys" / f"{hub}.pem").public_key) for hub in hubs)
    central_hub = CENTRAL_BANK_HUB_DEFAULT if CENTRAL_BANK_HUB_DEFAULT in hubs else hubs[0]
    accounts = [
        _account(out, "central-bank", "central_bank", central_hub, 0),
        _account(out, "regulator", "regulator", central_hub, 0),
    ]
    accounts += [_account(out, f"bank-{hub}", "bank", hub, BANK_OPENING_BALANCE) for hub in hubs]
    genesis = Genesis(chain_id, TimestampMs(genesis_time_ms), validators, tuple(accounts))
    genesis.save(out / "genesis.json")
    issue_certificates(NetworkPki.create(PkiLayout.of(out), chain_id), hubs, layout)
    for index, hub in enumerate(hubs):
        (out / f"{hub}.toml").write_text(_node_config(hubs, index, layout))
    (out / observer_config_name(OBSERVER_NAME)).write_text(_observer_config(hubs, OBSERVER_NAME, layout))
    return genesis


def observer_config_name(name: str) -> str:
    return f"observer-{name}.toml"


def describe_tls(out: Path) -> str:
    """What an operator must know of the PKI netgen wrote, in a few lines."""
    layout = PkiLayout.of(out)
    return (
        f"TLS everywhere: clients check hubs against {layout.ca_certificate} (--ca or HUBLEDGER_CA;\n"
        f"  the hubledger CLI finds .localnet/tls/ca.crt itself). The CA key is {layout.ca_key}:\n"
        "  move it to an offline machine, it is needed only to issue, renew or revoke certificates."
    )


def issue_certificates(pki: NetworkPki, hubs: list[str], layout: NetworkLayout) -> None:
    """Each hub's TLS certificate for its names, and client certificates for its bank and operator,
    and one for the regulator."""
    for hub in hubs:
        names = layout.get_host_names(hub)
        addresses = [ipaddress.ip_address(name) for name in names if _is_address(name)]
        pki.issue(
            Identity(Role.HUB, hub),
            dns_names=[name for name in names if not _is_address(name)],
            ip_addresses=addresses,
        )
        pki.issue(Identity(Role.BANK, hub))
        pki.issue(Identity(Role.OPERATOR, hub))
    pki.issue(Identity(Role.REGULATOR, "regulator"))
    names = layout.get_host_names(OBSERVER_NAME)
    pki.issue(
        Identity(Role.OBSERVER, OBSERVER_NAME),
        dns_names=[name for name in names if not _is_address(name)],
        ip_addresses=[ipaddress.ip_address(name) for name in names if _is_address(name)],
    )


def _is_address(name: str) -> bool:
    try:
        ipaddress.ip_address(name)
    except ValueError:
        return False
    return True


def _new_key(path: Path) -> PrivateKey:
    key = PrivateKey.generate()
    key.save(path)
    return key


def _account(out: Path, name: str, role: str, hub: str, balance: int) -> GenesisAccount:
    key = _new_key(out / "accounts" / f"{name}.pem")
    return GenesisAccount(name, key.public_key, role, hub, balance)


def _node_config(hubs: list[str], index: int, layout: NetworkLayout) -> str:
    hub = hubs[index]
    consensus = "\n".join(f"{name} = {value}" for name, value in layout.get_consensus().items())
    peers = "\n".join(
        f'{peer} = "wss://{layout.get_peer_host(peer)}:{layout.p2p_port(position)}/p2p"'
        for position, peer in enumerate(hubs)
        if peer != hub
    )
    return f"""# HubLedger node configuration for the {hub} hub (generated by `hubledger netgen`).
# Any field can be overridden with HUBLEDGER_<SECTION>_<FIELD>, e.g. HUBLEDGER_API_PORT.

[node]
name = "{hub}"
data_dir = "data/{hub}"
key_file = "keys/{hub}.pem"
genesis_file = "genesis.json"

[tls]
# Every peer link is mutual TLS 1.3 with certificates of this network's CA; the client API is TLS too.
ca_file = "tls/ca.crt"
certificate_file = "tls/hubs/{hub}.crt"
key_file = "tls/hubs/{hub}.key"
crl_file = "tls/crl.pem"

[api]
host = "{layout.get_api_host(hub)}"
port = {layout.api_port(index)}

[p2p]
host = "{layout.get_p2p_host(hub)}"
port = {layout.p2p_port(index)}

[p2p.peers]
{peers}

[consensus]
{consensus}

[log]
level = "info"
"""


def _observer_config(hubs: list[str], name: str, layout: NetworkLayout) -> str:
    peers = "\n".join(
        f'{hub} = "wss://{layout.get_peer_host(hub)}:{layout.p2p_port(position)}/p2p/observer"'
        for position, hub in enumerate(hubs)
    )
    return f"""# HubLedger observer {name} (generated by `hubledger netgen`): follows the chain from the hubs
# below, verifies and re-executes every block, serves reads, never votes. Run it with
# `hubledger node --config {observer_config_name(name)}`; docs/operators.md explains its alerts.

[node]
role = "observer"
name = "{name}"
data_dir = "data/observer-{name}"
genesis_file = "genesis.json"

[tls]
# Its certificate names hubledger://observer/{name}: hubs admit it on /p2p/observer, read-only.
ca_file = "tls/ca.crt"
certificate_file = "tls/observers/{name}.crt"
key_file = "tls/observers/{name}.key"
crl_file = "tls/crl.pem"

[api]
host = "{layout.api_host}"
port = {layout.observer_api_port()}

[p2p.peers]
# The hubs it asks for blocks; it follows the chain as long as one of them answers honestly.
{peers}

[observer]
poll_interval_ms = 500

[log]
level = "info"
"""
