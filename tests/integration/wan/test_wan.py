"""Four hubs, each a node process in its own network namespace, with inter-city round trips
(hubledger_tools/wan/delays.py: 8 ms Shanghai-Hangzhou to 45 ms Beijing-Shenzhen, 2 ms of
jitter) on every link between them, and the WAN consensus timeouts netgen writes for them.
TLS is on as everywhere: peers dial each other with mutual TLS (wss://) through the relays, and
the client API is https, checked against the network's CA and the hub's address.

They agree under load without a view change, replace a killed primary, and a hub cut off
by a partition catches up once it heals. Skipped, with the reason, where this machine
cannot make network namespaces (it needs root and a working ``ip netns``).
"""

from __future__ import annotations

import re
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from hubledger_tools.wan.namespaces import get_unavailable_reason
from hubledger_tools.wan.network import WanNetwork
from node.config import load_config
from tests.integration.harness import (
    LocalNetwork,
    Submitter,
    assert_same_chain,
    wait_committed_on,
    wait_for,
)

HUBS = ["beijing", "shanghai", "shenzhen", "hangzhou"]
TRANSFERS_PER_BANK = 150
WAN_DEADLINE_S = 60.0
PLAINTEXT_REFUSED = r'^hubledger_p2p_handshakes_refused_total\{reason="tls_plaintext"\} ([0-9.]+)$'
# A plaintext WebSocket upgrade, sent from inside a hub's namespace to a peer's relay address.
PLAIN_DIAL = """
import socket, sys
with socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=20) as dial:
    dial.sendall(b"GET /p2p HTTP/1.1\\r\\nHost: hub\\r\\nUpgrade: websocket\\r\\nConnection: Upgrade\\r\\n"
                 b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\\r\\nSec-WebSocket-Version: 13\\r\\n\\r\\n")
    print(dial.recv(4096)[:12])
"""


@pytest.fixture(scope="module")
def namespaces_usable() -> None:
    reason = get_unavailable_reason()
    if reason is not None:
        pytest.skip(f"no network namespaces on this machine: {reason}")


@pytest.fixture
def network(tmp_path: Path, namespaces_usable: None) -> Iterator[LocalNetwork]:
    wan = WanNetwork.create(HUBS, tmp_path / "net")
    print(f"inter-city delays added by {'netem' if wan.delay_by == 'netem' else 'the user-space relay'}")
    network = LocalNetwork(tmp_path / "net", HUBS, wan=wan)
    try:
        network.start_all()
        wait_for(
            lambda: all(len(network.status(hub)["connected_peers"]) == 3 for hub in HUBS),
            what="every hub linked to the three others across the relays",
        )
        yield network
    finally:
        network.stop_all()
        wan.close()


def _plaintext_refusals(network: LocalNetwork, hub: str) -> float:
    """How many plaintext peer connections ``hub`` refused at the TLS handshake (its /metrics)."""
    with urllib.request.urlopen(network.url(hub) + "/metrics", context=network.context, timeout=10) as answer:
        text = answer.read().decode()
    found = re.search(PLAINTEXT_REFUSED, text, re.MULTILINE)
    return float(found.group(1)) if found else 0.0


def _views(network: LocalNetwork, hubs: list[str]) -> list[int]:
    return [int(network.status(hub)["view"]) for hub in hubs]


def _send_from_every_bank(network: LocalNetwork, hubs: list[str], count: int) -> list[str]:
    """``count`` transfers from each hub's bank, through its own hub, the banks at once."""

    def send(hub: str) -> list[str]:
        submitter = Submitter(network, f"bank-{hub}", "central-bank")
        return [submitter.transfer(hub) for _ in range(count)]

    with ThreadPoolExecutor(len(hubs)) as pool:
        return [transaction for ids in pool.map(send, hubs) for transaction in ids]


def test_four_hubs_agree_under_load_and_a_healthy_wan_never_changes_view(network: LocalNetwork) -> None:
    started = time.monotonic()
    ids = _send_from_every_bank(network, HUBS, TRANSFERS_PER_BANK)
    for hub in HUBS:
        for transaction_id in ids[-1::-TRANSFERS_PER_BANK]:  # each bank's last transfer
            wait_committed_on(network, hub, transaction_id, timeout_s=WAN_DEADLINE_S)
    elapsed_s = time.monotonic() - started
    print(f"{len(ids)} transfers committed on every hub in {elapsed_s:.2f} s over the WAN delays")
    for transaction_id in ids[:: TRANSFERS_PER_BANK // 3]:
        assert wait_committed_on(network, "shenzhen", transaction_id)["receipt"]["success"]
    assert_same_chain(network, HUBS)
    assert _views(network, HUBS) == [0, 0, 0, 0], "a view change fired on a healthy WAN"


def test_every_link_across_the_wan_is_tls_and_a_plaintext_dial_through_a_relay_is_refused(
    network: LocalNetwork,
) -> None:
    assert network.wan is not None
    assert all(network.url(hub).startswith("https://") for hub in HUBS)  # the harness checks the CA
    dialled = load_config(network.directory / "beijing.toml", environ={}).p2p.peers["shanghai"]
    assert dialled.startswith(f"wss://{network.wan.spaces['shanghai'].root_address}:"), dialled
    host, port = dialled.removeprefix("wss://").removesuffix("/p2p").rsplit(":", 1)
    before = _plaintext_refusals(network, "shanghai")
    finished = subprocess.run(
        [*network.wan.exec_prefix("beijing"), sys.executable, "-c", PLAIN_DIAL, host, port],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    print(f"a plaintext dial through the relay got {finished.stdout.strip() or finished.stderr[-200:]!r}")
    assert "101" not in finished.stdout, f"a plaintext upgrade was accepted: {finished.stdout}"
    wait_for(
        lambda: _plaintext_refusals(network, "shanghai") > before,
        what="shanghai to count the plaintext dial that crossed the relay",
    )
    assert all(len(network.status(hub)["connected_peers"]) == 3 for hub in HUBS)


def test_a_killed_primary_is_replaced_across_the_wan(network: LocalNetwork) -> None:
    submitter = Submitter(network, "bank-shanghai", "bank-shenzhen")
    wait_committed_on(network, "shanghai", submitter.transfer("shanghai"), timeout_s=WAN_DEADLINE_S)
    primary = network.status("shanghai")["primary"]
    survivors = [hub for hub in HUBS if hub != primary]
    network.kill(primary, signal.SIGKILL)
    killed_at = time.monotonic()
    transaction_id = submitter.transfer(survivors[0])
    for hub in survivors:
        wait_committed_on(network, hub, transaction_id, timeout_s=WAN_DEADLINE_S)
    elapsed_s = time.monotonic() - killed_at
    print(f"primary {primary} killed: a transfer committed on the three others {elapsed_s:.2f} s later")
    assert all(network.status(hub)["primary"] != primary for hub in survivors)
    assert min(_views(network, survivors)) >= 1
    assert_same_chain(network, survivors)


def test_a_partitioned_hub_catches_up_after_the_heal(network: LocalNetwork) -> None:
    cut_off = "hangzhou"
    others = [hub for hub in HUBS if hub != cut_off]
    assert network.wan is not None
    own_bank = Submitter(network, f"bank-{cut_off}", "central-bank")
    wait_committed_on(network, cut_off, own_bank.transfer(cut_off), timeout_s=WAN_DEADLINE_S)
    network.wan.isolate(cut_off)
    wait_for(lambda: network.status(cut_off)["connected_peers"] == [], what=f"{cut_off} cut off")
    ids = _send_from_every_bank(network, others, 20)
    for transaction_id in ids[-1::-20]:
        wait_committed_on(network, others[-1], transaction_id, timeout_s=WAN_DEADLINE_S)
    behind = network.height(cut_off)
    assert behind < network.height(others[-1]), f"{cut_off} kept up through the partition"
    network.wan.heal()
    healed_at = time.monotonic()
    for transaction_id in ids[-1::-20]:
        wait_committed_on(network, cut_off, transaction_id, timeout_s=WAN_DEADLINE_S)
    print(f"{cut_off} caught up {time.monotonic() - healed_at:.2f} s after the heal (from height {behind})")
    assert_same_chain(network, HUBS)
    later = own_bank.transfer(cut_off)
    for hub in HUBS:
        wait_committed_on(network, hub, later, timeout_s=WAN_DEADLINE_S)
