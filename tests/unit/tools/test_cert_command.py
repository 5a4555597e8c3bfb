"""``hubledger cert``: issue, renew and revoke after netgen, the CA key read from the offline directory."""

from __future__ import annotations

import ipaddress
import shutil
from pathlib import Path

import pytest
from cryptography import x509

from hubledger_tools.cli.main import main
from hubledger_tools.netgen import generate_network
from hubledger_tools.pki import NetworkPki, PkiLayout
from hubledger_tools.pki.lifecycle import get_host_names
from ledger.tls_identity import Identity, Role

BEIJING = Identity(Role.HUB, "beijing")


@pytest.fixture
def network(tmp_path: Path) -> Path:
    """A network whose CA key the operator has moved away from it, as docs/operators.md says to."""
    generate_network(["beijing", "shanghai", "shenzhen", "hangzhou"], tmp_path / "net")
    shutil.move(tmp_path / "net" / "ca-offline", tmp_path / "usb-stick")
    return tmp_path / "net"


def run(network: Path, *arguments: str) -> int:
    return main(
        ["cert", *arguments, "--network", str(network), "--ca-offline", str(network.parent / "usb-stick")]
    )


def read(path: Path) -> x509.Certificate:
    return x509.load_pem_x509_certificate(path.read_bytes())


def read_crl(network: Path) -> x509.CertificateRevocationList:
    return x509.load_pem_x509_crl((network / "tls" / "crl.pem").read_bytes())


def test_renew_keeps_the_names_and_gives_a_new_key_serial_and_validity(network: Path) -> None:
    path = network / "tls" / "hubs" / "beijing.crt"
    old = read(path)
    assert run(network, "renew", "hub", "beijing", "--days", "90") == 0
    new = read(path)
    assert get_host_names(new) == get_host_names(old)
    assert ipaddress.ip_address("127.0.0.1") in get_host_names(new).ip_addresses
    assert new.serial_number != old.serial_number and new.public_key() != old.public_key()
    assert (new.not_valid_after_utc - new.not_valid_before_utc).days == 90
    new.verify_directly_issued_by(read(network / "tls" / "ca.crt"))


def test_issue_gives_a_new_party_a_certificate_of_the_network_ca(network: Path) -> None:
    assert run(network, "issue", "hub", "chengdu", "--dns", "chengdu.example", "--ip", "10.0.0.5") == 0
    certificate = read(network / "tls" / "hubs" / "chengdu.crt")
    names = get_host_names(certificate)
    assert names.dns_names == ("chengdu.example",)
    assert names.ip_addresses == (ipaddress.ip_address("10.0.0.5"),)
    assert run(network, "issue", "bank", "chengdu") == 0
    assert (network / "tls" / "clients" / "bank-chengdu.key").is_file()


def test_revoke_puts_every_live_certificate_of_the_party_on_a_newer_crl(network: Path) -> None:
    first = read(network / "tls" / "hubs" / "beijing.crt")
    run(network, "renew", "hub", "beijing")
    second = read(network / "tls" / "hubs" / "beijing.crt")
    number_before = read_crl(network).extensions.get_extension_for_class(x509.CRLNumber).value.crl_number
    assert run(network, "revoke", "hub", "beijing") == 0
    crl = read_crl(network)
    assert crl.extensions.get_extension_for_class(x509.CRLNumber).value.crl_number > number_before
    for certificate in (first, second):
        assert crl.get_revoked_certificate_by_serial_number(certificate.serial_number) is not None
    shanghai = read(network / "tls" / "hubs" / "shanghai.crt")
    assert crl.get_revoked_certificate_by_serial_number(shanghai.serial_number) is None


def test_revoke_one_serial_leaves_the_renewed_certificate_live(network: Path) -> None:
    old = read(network / "tls" / "hubs" / "beijing.crt")
    run(network, "renew", "hub", "beijing")
    new = read(network / "tls" / "hubs" / "beijing.crt")
    assert run(network, "revoke", "--serial", format(old.serial_number, "x")) == 0
    crl = read_crl(network)
    assert crl.get_revoked_certificate_by_serial_number(old.serial_number) is not None
    assert crl.get_revoked_certificate_by_serial_number(new.serial_number) is None


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["renew", "hub", "chengdu"], "no certificate"),
        (["issue", "bank", "beijing", "--dns", "x.example"], "only hub and observer certificates"),
        (["issue", "hub", "Beijing"], "lowercase"),
        (["issue", "hub", "x", "--ip", "300.1.1.1"], "--ip"),
        (["revoke", "--serial", "zz"], "hex"),
        (["revoke"], "name a party"),
        (["revoke", "--serial", "abc"], "no live certificate"),
    ],
)
def test_bad_requests_exit_2_with_a_sentence_and_change_nothing(
    network: Path, arguments: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    crl_before = (network / "tls" / "crl.pem").read_bytes()
    assert run(network, *arguments) == 2
    assert message in capsys.readouterr().err
    assert (network / "tls" / "crl.pem").read_bytes() == crl_before


def test_without_the_offline_directory_nothing_can_be_issued(
    network: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["cert", "renew", "hub", "beijing", "--network", str(network)]) == 2
    assert "--ca-offline" in capsys.readouterr().err
    records, _ = NetworkPki.load(PkiLayout.of(network, network.parent / "usb-stick")).read_registry()
    assert len(records) == 4 * 3 + 2  # per hub: hub, bank, operator; the regulator and its observer


def test_crl_signs_the_same_list_again_with_a_later_next_update(network: Path) -> None:
    run(network, "revoke", "hub", "beijing")
    before = read_crl(network)
    assert run(network, "crl") == 0
    after = read_crl(network)
    assert [item.serial_number for item in after] == [item.serial_number for item in before]
    assert after.next_update_utc is not None and before.next_update_utc is not None
    assert after.next_update_utc >= before.next_update_utc
    number = after.extensions.get_extension_for_class(x509.CRLNumber).value.crl_number
    assert number > before.extensions.get_extension_for_class(x509.CRLNumber).value.crl_number
