"""A [tls] mistake stops the node at start with the file, the field and the reason."""

from __future__ import annotations

import datetime
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from hubledger_tools.netgen import generate_network
from hubledger_tools.pki import NetworkPki, PkiLayout
from ledger.tls_identity import Identity, Role
from node.config import load_config
from node.errors import ConfigError
from node.tls_setup import load_node_tls, validate_tls_files

HUBS = ["beijing", "shanghai"]


@pytest.fixture(scope="module")
def network(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("tls") / "net"
    generate_network(HUBS, directory)
    return directory


def _copy(network: Path, tmp_path: Path) -> Path:
    copy = tmp_path / "net"
    shutil.copytree(network, copy)
    return copy


def _use(field: str, value: str) -> Callable[[Path], None]:
    def change(directory: Path) -> None:
        config = directory / "beijing.toml"
        lines = [
            f'{field} = "{value}"' if line.startswith(f"{field} =") else line
            for line in config.read_text().splitlines()
        ]
        config.write_text("\n".join(lines) + "\n")

    return change


def _other_ca(directory: Path) -> None:
    other = NetworkPki.create(PkiLayout.of(directory / "other"), "elsewhere")
    other.issue(Identity(Role.HUB, "beijing"))
    _use("certificate_file", "other/tls/hubs/beijing.crt")(directory)
    _use("key_file", "other/tls/hubs/beijing.key")(directory)


def _revoked(directory: Path) -> None:
    pki = NetworkPki.load(PkiLayout.of(directory))
    records, _ = pki.read_registry()
    serial = next(r.serial_number for r in records if r.identity == "hubledger://hub/beijing")
    pki.revoke(serial)


def _foreign_crl(directory: Path) -> None:
    other = NetworkPki.create(PkiLayout.of(directory / "other"), "elsewhere")
    _use("crl_file", str(other.layout.crl.relative_to(directory)))(directory)


def _expired(directory: Path) -> None:
    pki = NetworkPki.load(PkiLayout.of(directory))
    long_ago = datetime.datetime.now(datetime.UTC) - datetime.timedelta(days=40)
    pki.issue(Identity(Role.HUB, "beijing"), now=long_ago, valid_days=30)


@pytest.mark.parametrize(
    ("change", "field", "reason"),
    [
        (_use("ca_file", "tls/absent.crt"), "tls.ca_file", "cannot read it"),
        (_use("crl_file", "genesis.json"), "tls.crl_file", "not a PEM file of the right kind"),
        (
            _use("certificate_file", "tls/hubs/shanghai.crt"),
            "tls.certificate_file",
            "names hubledger://hub/shanghai",
        ),
        (
            _use("certificate_file", "tls/clients/bank-beijing.crt"),
            "tls.certificate_file",
            "hubledger://bank/beijing",
        ),
        (_use("key_file", "tls/hubs/shanghai.key"), "tls.key_file", "not the key of tls.certificate_file"),
        (_other_ca, "tls.certificate_file", "not issued by the CA of tls.ca_file"),
        (_foreign_crl, "tls.crl_file", "not signed by the CA of tls.ca_file"),
        (_revoked, "tls.certificate_file", "the CA revoked this certificate"),
        (_expired, "tls.certificate_file", "valid only from"),
    ],
)
def test_a_tls_mistake_names_the_file_the_field_and_the_reason(
    network: Path, tmp_path: Path, change: Callable[[Path], None], field: str, reason: str
) -> None:
    directory = _copy(network, tmp_path)
    change(directory)
    path = directory / "beijing.toml"
    with pytest.raises(ConfigError) as caught:
        validate_tls_files(load_config(path, environ={}), path)
    assert str(path) in caught.value.message
    assert field in caught.value.message
    assert reason in caught.value.message


def test_generated_files_pass_and_build_both_contexts(network: Path) -> None:
    path = network / "beijing.toml"
    config = load_config(path, environ={})
    validate_tls_files(config, path)
    tls = load_node_tls(config, HUBS, path)
    assert tls.api_context is not None
    assert tls.peer.hub_names == ("beijing", "shanghai")
    plaintext = load_config(path, environ={"HUBLEDGER_TLS_API_PLAINTEXT": "true"})
    assert load_node_tls(plaintext, HUBS, path).api_context is None
