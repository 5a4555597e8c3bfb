"""Oversized frames from strangers before the handshake cost a node little memory; consensus goes on.

Four hubs run as real processes. Many connections to one hub's peer endpoint,
each through TLS with a client certificate of the network that is not a
validator's (a bank's: the TLS handshake admits it, only the validator
handshake would refuse it), upgrade to WebSocket and start a binary frame announced as
``FRAME_BYTES`` long, streaming its payload for as long as the hub takes it,
``CONNECTIONS`` at a time, ``ROUNDS`` times. Meanwhile transfers are submitted
and must commit on every hub. The hub's peak resident memory (VmHWM, from
/proc) may grow by at most ``RSS_GROWTH_MAX_BYTES`` over its resident memory
before the flood. Before p2p/guard.py, each such connection could make the hub
buffer up to ``message_bytes_max`` (64 MiB): 16 at once took a hub to 1.5 GB.
"""

from __future__ import annotations

import base64
import os
import socket
import ssl
import struct
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from hubledger_client.tls import make_client_context
from ledger.tls_identity import Identity, Role
from tests.integration.harness import LocalNetwork, Submitter, wait_committed_on, wait_for

HUBS = ["beijing", "shanghai", "shenzhen", "hangzhou"]
TARGET = "shanghai"
CONNECTIONS = 16
ROUNDS = 3
FRAME_BYTES = 60 * 1024 * 1024
CHUNK_BYTES = 256 * 1024
RSS_GROWTH_MAX_BYTES = 64 * 1024 * 1024
SOCKET_TIMEOUT_S = 10.0


@pytest.fixture
def network(tmp_path: Path) -> Iterator[LocalNetwork]:
    network = LocalNetwork(tmp_path / "net", HUBS)
    network.start_all()
    wait_for(lambda: all(len(network.status(h)["connected_peers"]) == 3 for h in HUBS), what="full mesh")
    yield network
    network.stop_all()


class PeakMemory:
    """The highest resident memory of ``pid`` from now on: its VmHWM, reset here, and samples."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        try:
            Path(f"/proc/{pid}/clear_refs").write_text("5")  # resets VmHWM to the current RSS
            self.high_water_reset = True
        except OSError:
            self.high_water_reset = False
        self.peak_bytes = read_memory_bytes(pid, "VmRSS")
        self.stopped = threading.Event()
        self.sampler = threading.Thread(target=self._sample, daemon=True)
        self.sampler.start()

    def _sample(self) -> None:
        while not self.stopped.wait(0.01):
            self.peak_bytes = max(self.peak_bytes, read_memory_bytes(self.pid, "VmRSS"))

    def stop(self) -> int:
        self.stopped.set()
        self.sampler.join(timeout=5)
        if self.high_water_reset:
            self.peak_bytes = max(self.peak_bytes, read_memory_bytes(self.pid, "VmHWM"))
        return self.peak_bytes


def read_memory_bytes(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) * 1024  # kB
    raise AssertionError(f"no {field} in /proc/{pid}/status")


def make_upgrade_request(port: int) -> bytes:
    """A WebSocket upgrade request for the peer endpoint, as any client may send one."""
    key = base64.b64encode(os.urandom(16)).decode()
    return (
        f"GET /p2p HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n"
        f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
    ).encode()


def send_oversized_frame(port: int, context: ssl.SSLContext, *, pipelined: bool) -> int:
    """Upgrade to WebSocket and stream one huge binary frame; returns the payload bytes accepted.
    ``pipelined``: send the frame right behind the upgrade request, without waiting for the 101."""
    sent = 0
    with (
        socket.create_connection(("127.0.0.1", port), timeout=SOCKET_TIMEOUT_S) as raw,
        context.wrap_socket(raw, server_hostname="127.0.0.1") as connection,
    ):
        upgrade = make_upgrade_request(port)
        header = struct.pack("!BBQ", 0x82, 0x80 | 127, FRAME_BYTES) + os.urandom(4)  # masked, 64-bit length
        chunk = os.urandom(CHUNK_BYTES)
        try:
            if pipelined:
                connection.sendall(upgrade + header)
            else:
                connection.sendall(upgrade)
                if not connection.recv(4096).startswith(b"HTTP/1.1 101"):
                    return 0  # refused before the upgrade (too many handshakes): that is a bound too
                connection.sendall(header)
            while sent < FRAME_BYTES:
                connection.sendall(chunk)
                sent += len(chunk)
        except OSError:  # cut by the hub, as it should be
            pass
    return sent


def flood(port: int, context: ssl.SSLContext, accepted: list[int]) -> None:
    for _ in range(ROUNDS):
        threads = [
            threading.Thread(
                target=lambda pipelined: accepted.append(
                    send_oversized_frame(port, context, pipelined=pipelined)
                ),
                args=(number % 2 == 0,),
                daemon=True,
            )
            for number in range(CONNECTIONS)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)


def test_oversized_frames_before_the_handshake_are_cut_and_consensus_goes_on(network: LocalNetwork) -> None:
    pid = network.processes[TARGET].pid
    port = network.api_ports[TARGET] + len(HUBS)  # the harness puts peer ports after the API ports
    submitter = Submitter(network, "bank-beijing", "central-bank")
    wait_committed_on(network, TARGET, submitter.transfer(TARGET))
    rss_before = read_memory_bytes(pid, "VmRSS")
    peak = PeakMemory(pid)

    accepted: list[int] = []
    certificate, key = network.client_files(Identity(Role.BANK, "beijing"))
    context = make_client_context(network.ca_file, certificate_file=certificate, key_file=key)
    flooder = threading.Thread(target=flood, args=(port, context, accepted), daemon=True)
    flooder.start()
    committed = 0
    while flooder.is_alive() or committed < 3:
        for hub in (TARGET, "beijing"):
            wait_committed_on(network, hub, submitter.transfer(TARGET))
        committed += 1
    flooder.join(timeout=120)
    assert not flooder.is_alive(), "the flood did not finish"

    peak_growth = peak.stop() - rss_before
    mebibytes = f"RSS before {rss_before / 2**20:.1f} MiB, peak growth {peak_growth / 2**20:.1f} MiB"
    print(f"{mebibytes} under the flood")
    assert len(accepted) == CONNECTIONS * ROUNDS
    assert max(accepted) < FRAME_BYTES, "a stranger streamed a whole oversized frame"
    assert peak_growth < RSS_GROWTH_MAX_BYTES, f"peak RSS grew by {peak_growth / 2**20:.1f} MiB"
    for hub in HUBS:
        assert len(network.status(hub)["connected_peers"]) == 3, f"{hub} lost a peer link"
    assert "Traceback" not in network.log_text(TARGET)
    refused = network.log_text(TARGET).count('"reason": "handshake_too_large"')
    assert 0 < refused <= len(accepted), "connections cut for their size are logged as such, once each"
