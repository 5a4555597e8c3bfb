"""One bundle per hub: it holds what its host needs to run the hub, and none of another hub's secrets."""

from __future__ import annotations

import ipaddress
import stat
from pathlib import Path

import pytest
from cryptography import x509

from hubledger_tools.cli.main import main
from hubledger_tools.pki.lifecycle import get_host_names
from ledger.tls_identity import Identity, Role, get_identity
from node.runner import load_node_inputs

HOSTS = {
    "beijing": "10.0.1.5",
    "shanghai": "sh.hub.example",
    "shenzhen": "10.0.3.5",
    "hangzhou": "hz.hub.example",
}


@pytest.fixture(scope="module")
def network(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("four-hosts") / "net"
    arguments = ["netgen", "--out", str(out), "--hubs", ",".join(HOSTS)]
    for hub, host in HOSTS.items():
        arguments += ["--host", f"{hub}={host}"]
    assert main(arguments) == 0
    return out


def secrets_of(network: Path) -> dict[bytes, str]:
    """Every private key netgen wrote, by content: what it is."""
    paths = [*network.glob("keys/*.pem"), *network.glob("accounts/*.pem"), *network.glob("tls/**/*.key")]
    paths += list(network.glob("ca-offline/*"))
    return {path.read_bytes(): str(path.relative_to(network)) for path in paths}


@pytest.mark.parametrize("hub", list(HOSTS))
def test_a_bundle_runs_its_hub_as_it_is(network: Path, hub: str) -> None:
    bundle = network / "bundles" / hub
    config, genesis, key = load_node_inputs(bundle / f"{hub}.toml")  # checks every [tls] file too
    assert config.node.name == hub
    assert key.public_key == genesis.validators[[v.name for v in genesis.validators].index(hub)].public_key
    assert (bundle / "genesis.json").read_bytes() == (network / "genesis.json").read_bytes()
    assert config.p2p.peers == {peer: f"wss://{host}:9000/p2p" for peer, host in HOSTS.items() if peer != hub}
    assert (config.api.host, config.api.port, config.p2p.host, config.p2p.port) == (
        "0.0.0.0",
        8000,
        "0.0.0.0",
        9000,
    )
    certificate = x509.load_pem_x509_certificate((bundle / "tls" / "hubs" / f"{hub}.crt").read_bytes())
    assert get_identity(certificate) == Identity(Role.HUB, hub)
    names = get_host_names(certificate)
    host = HOSTS[hub]
    assert host in names.dns_names or ipaddress.ip_address(host) in names.ip_addresses
    compose = (bundle / "docker-compose.yml").read_text()
    assert f"/etc/hubledger/{hub}.toml" in compose and "8000:8000" in compose and "9000:9000" in compose
    assert all(other not in compose for other in HOSTS if other != hub)


@pytest.mark.parametrize("hub", list(HOSTS))
def test_a_bundle_holds_its_own_keys_and_nothing_of_another_hub_or_the_ca(network: Path, hub: str) -> None:
    bundle = network / "bundles" / hub
    secrets = secrets_of(network)
    own = {"keys/" + f"{hub}.pem", f"tls/hubs/{hub}.key", f"tls/clients/operator-{hub}.key"}
    carried = set()
    for path in bundle.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            assert b"PRIVATE KEY" not in data or data in secrets, f"{path} holds a key netgen did not write"
            if data in secrets:
                carried.add(secrets[data])
                assert stat.S_IMODE(path.stat().st_mode) == 0o600, f"{path} is readable by others"
    assert carried == own
    assert not list(bundle.rglob("ca.key")) and not list(bundle.rglob("issued.json"))


@pytest.mark.parametrize(
    ("hosts", "message"),
    [
        (["beijing=10.0.1.5"], "missing for shanghai"),
        (["beijing=10.0.1.5", "beijing=10.0.1.6"], "twice"),
        (["chengdu=10.0.1.5"], "not one of --hubs"),
        (["beijing"], "HUB=ADDRESS"),
        (["beijing=0.0.0.0"], "no address"),
        (["beijing=bad_name"], "neither"),
    ],
)
def test_bad_hosts_are_refused_before_anything_is_written(
    tmp_path: Path, hosts: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    arguments = ["netgen", "--out", str(tmp_path / "net")]
    for host in hosts:
        arguments += ["--host", host]
    assert main(arguments) == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "net").exists()
