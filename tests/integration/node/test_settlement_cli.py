"""A bank's day through the `hubledger` command against a real node: every settlement call commits."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from hubledger_tools.pki import NetworkPki, PkiLayout
from ledger.keys import PrivateKey
from tests.integration.harness import LocalNetwork

HUBS = ["beijing", "shanghai"]


@pytest.fixture(scope="module")
def network(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalNetwork]:
    network = LocalNetwork(tmp_path_factory.mktemp("cli") / "net", HUBS)
    network.start_all()
    yield network
    network.stop_all()


def hubledger(
    network: LocalNetwork, *arguments: str, ok: bool = True, ca: Path | None = None, cwd: Path | None = None
) -> Any:
    """Run the CLI against shanghai; it finds the network's CA in HUBLEDGER_CA, or takes ``ca`` as --ca."""
    node = network.url("shanghai")
    command = [sys.executable, "-m", "hubledger_tools.cli", *arguments, "--node", node, "--json"]
    env = {**os.environ, "HUBLEDGER_CA": str(network.ca_file)}
    if ca is not None:
        command += ["--ca", str(ca)]
        del env["HUBLEDGER_CA"]
    done = subprocess.run(command, capture_output=True, text=True, timeout=60, check=False, env=env, cwd=cwd)
    if ok:
        assert done.returncode == 0, done.stderr + done.stdout
    return json.loads(done.stdout) if done.stdout.strip().startswith(("{", "[")) else done


def key(network: LocalNetwork, name: str) -> str:
    return str(network.directory / "accounts" / f"{name}.pem")


def test_settlement_day_through_the_cli(network: LocalNetwork, tmp_path: Any) -> None:
    central, beijing, shanghai = (
        key(network, "central-bank"),
        key(network, "bank-beijing"),
        key(network, "bank-shanghai"),
    )
    regulator = key(network, "regulator")
    customer = PrivateKey.from_secret(90210)
    customer_file = tmp_path / "customer.pem"
    customer.save(customer_file)

    record = hubledger(
        network, "issue", "--key", central, "--to", f"@{beijing}", "--amount", "1000000", "--wait"
    )
    assert record["receipt"]["success"] and record["receipt"]["events"][0]["name"]
    before = hubledger(network, "balance", "--key", beijing)["balance"]
    hubledger(
        network,
        "register-institution",
        "--key",
        beijing,
        "--public-key",
        f"@{customer_file}",
        "--hub",
        "beijing",
        "--wait",
    )
    hubledger(
        network, "transfer", "--key", beijing, "--to", f"@{customer_file}", "--amount", "2500", "--wait"
    )
    assert hubledger(network, "balance", "--key", str(customer_file))["balance"] == 2500
    assert hubledger(network, "balance", "--key", beijing)["balance"] == before - 2500

    hubledger(
        network,
        "create-security",
        "--key",
        beijing,
        "--security-id",
        "CGB-1",
        "--name",
        "Bond",
        "--supply",
        "100",
        "--wait",
    )
    hubledger(
        network,
        "dvp",
        "propose",
        "--key",
        beijing,
        "--dvp-id",
        "d1",
        "--counterparty",
        f"@{shanghai}",
        "--security-id",
        "CGB-1",
        "--quantity",
        "10",
        "--amount",
        "5000",
        "--expiry-height",
        "100000",
        "--wait",
    )
    assert [dvp["dvp_id"] for dvp in hubledger(network, "dvps", "--key", shanghai)] == ["d1"]
    hubledger(network, "dvp", "accept", "--key", shanghai, "--dvp-id", "d1", "--wait")
    assert hubledger(network, "account", "--key", shanghai)["holdings"] == {"CGB-1": 10}

    hubledger(
        network,
        "escrow",
        "lock",
        "--key",
        shanghai,
        "--escrow-id",
        "e1",
        "--payee",
        f"@{beijing}",
        "--arbiter",
        f"@{regulator}",
        "--amount",
        "700",
        "--expiry-height",
        "100000",
        "--wait",
    )
    assert len(hubledger(network, "escrows", "--key", regulator, "--account", f"@{shanghai}")) == 1
    hubledger(network, "escrow", "release", "--key", regulator, "--escrow-id", "e1", "--wait")

    obligations = json.dumps([{"from": f"@{beijing}", "to": f"@{shanghai}", "amount": 300}])
    hubledger(network, "net", "--key", central, "--obligations", obligations, "--wait")

    failed = hubledger(
        network,
        "transfer",
        "--key",
        beijing,
        "--to",
        f"@{shanghai}",
        "--amount",
        str(10**15),
        "--wait",
        ok=False,
    )
    assert failed["receipt"]["code"] == "INSUFFICIENT_FUNDS"


def test_bad_cli_arguments_are_clear_errors(network: LocalNetwork) -> None:
    done = hubledger(
        network, "transfer", "--key", key(network, "bank-beijing"), "--to", "nope", "--amount", "1", ok=False
    )
    assert done.returncode == 2 and "not an address" in done.stderr
    done = hubledger(
        network, "transfer", "--key", "/no/such.pem", "--to", "00" * 20, "--amount", "1", ok=False
    )
    assert done.returncode == 2 and "cannot read key file" in done.stderr


def test_the_cli_checks_the_hub_against_the_network_ca(network: LocalNetwork, tmp_path: Path) -> None:
    reading = ["balance", "--key", key(network, "bank-beijing")]
    assert "balance" in hubledger(network, *reading, ca=network.ca_file, cwd=tmp_path)
    other = NetworkPki.create(PkiLayout.of(tmp_path / "other"), "elsewhere")
    for wrong in (other.layout.ca_certificate, tmp_path / "absent.crt"):
        done = hubledger(network, *reading, ca=wrong, cwd=tmp_path, ok=False)
        assert done.returncode != 0
        assert "certificate verify failed" in done.stderr or "cannot use" in done.stderr
        assert "Traceback" not in done.stderr
