"""Four hubs, each run from nothing but its own bundle, on four addresses of their own.

netgen is given one address per hub (127.0.0.11 to .14, standing in for four
hosts); each bundle is copied to a directory of its own, as an operator would
carry it, and its hub is started from it with nothing else: the peers find
each other by those addresses, over mutual TLS, and commit. A client checks
each hub's certificate against the network CA, by the hub's address.
"""

from __future__ import annotations

import os
import shutil
import socket
import ssl
import subprocess
import sys
from collections.abc import Iterator
from functools import partial
from pathlib import Path

import pytest

from hubledger_client.json_http import http_json
from hubledger_client.tls import make_client_context
from hubledger_tools.cli.main import main
from ledger.keys import PrivateKey
from ledger.transaction import Transaction
from tests.integration.harness import wait_for

HOSTS = {
    "beijing": "127.0.0.11",
    "shanghai": "127.0.0.12",
    "shenzhen": "127.0.0.13",
    "hangzhou": "127.0.0.14",
}
PORTS = (8000, 9000)  # what every bundle listens on


def is_free(address: str, port: int) -> bool:
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the node binds: TIME_WAIT is no bar
        try:
            probe.bind((address, port))
        except OSError:
            return False
    return True


@pytest.fixture
def hosts(tmp_path: Path) -> Iterator[dict[str, Path]]:
    taken = [
        f"{address}:{port}" for address in HOSTS.values() for port in PORTS if not is_free(address, port)
    ]
    if taken:
        pytest.skip(f"ports the bundles listen on are taken on this machine: {', '.join(taken)}")
    arguments = ["netgen", "--out", str(tmp_path / "workstation"), "--hubs", ",".join(HOSTS)]
    for hub, address in HOSTS.items():
        arguments += ["--host", f"{hub}={address}"]
    assert main(arguments) == 0
    directories = {}
    for hub in HOSTS:
        directories[hub] = tmp_path / "hosts" / hub
        shutil.copytree(tmp_path / "workstation" / "bundles" / hub, directories[hub])
    for folder in ("keys", "tls", "ca-offline", "bundles"):  # only the banks' account keys stay behind
        shutil.rmtree(tmp_path / "workstation" / folder)
    processes = [start(hub, directory) for hub, directory in directories.items()]
    yield directories
    for process in processes:
        process.terminate()
    for process in processes:
        process.wait(timeout=15)


def start(hub: str, directory: Path) -> subprocess.Popen[bytes]:
    address = HOSTS[hub]
    environment = {
        **os.environ,
        "HUBLEDGER_LOG_FORMAT": "json",
        "HUBLEDGER_API_HOST": address,  # 0.0.0.0 in the bundle: here each hub keeps to its own address
        "HUBLEDGER_P2P_HOST": address,
        "HUBLEDGER_NODE_DATA_DIR": str(directory / "data"),
    }
    with (directory / "node.log").open("ab") as log:
        return subprocess.Popen(
            [sys.executable, "-m", "hubledger_tools.cli", "node", "--config", str(directory / f"{hub}.toml")],
            stdout=log,
            stderr=subprocess.STDOUT,
            env=environment,
            cwd=directory,
        )


def answers(url: str, context: ssl.SSLContext, status: int) -> bool:
    return http_json(url, context=context)[0] == status


def is_committed(url: str, context: ssl.SSLContext) -> bool:
    code, record = http_json(url, context=context)
    return code == 200 and record.get("status") == "committed"


def test_four_hubs_started_from_their_bundles_alone_link_by_address_and_commit(
    hosts: dict[str, Path], tmp_path: Path
) -> None:
    context = make_client_context(hosts["beijing"] / "tls" / "ca.crt")  # checks each hub's address too
    for hub, address in HOSTS.items():
        wait_for(
            partial(answers, f"https://{address}:8000/readyz", context, 200),
            timeout_s=60,
            what=f"{hub} ready at {address}, linked to a quorum",
        )
    accounts = tmp_path / "workstation" / "accounts"
    receiver = PrivateKey.load(accounts / "bank-hangzhou.pem").public_key.address.hex()
    transfer = Transaction.create(
        PrivateKey.load(accounts / "bank-beijing.pem"),
        chain_id="hubledger-local",
        nonce=0,
        contract="cbdc",
        method="transfer",
        args={"to": receiver, "amount": 1},
    )
    code, answer = http_json(
        f"https://{HOSTS['shanghai']}:8000/v1/transactions", transfer.to_json(), context=context
    )
    assert code == 202, answer
    for hub, address in HOSTS.items():
        url = f"https://{address}:8000/v1/transactions/{answer['id']}"
        wait_for(
            partial(is_committed, url, context),
            what=f"the transfer committed on {hub}",
        )
