"""A stranger refused before the upgrade (too many handshakes from its address, p2p/guard.py) is
cut at once, even with a frame already streaming behind its request: the hub does not read and
discard it for seconds (aiohttp's lingering close, which the client API keeps and the peer port
does not, node/edge.py)."""

from __future__ import annotations

import socket
import ssl
import time
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest

from hubledger_client.tls import make_client_context
from ledger.tls_identity import Identity, Role
from p2p.settings import P2PSettings
from tests.integration.harness import LocalNetwork
from tests.integration.p2p.test_unauthenticated_flood import (
    FRAME_BYTES,
    make_upgrade_request,
    send_oversized_frame,
)

HUBS = ["beijing", "shanghai"]
TARGET = "shanghai"
CUT_WITHIN_S = 3.0  # the handshakes held below stay in their slots for the 5 s handshake timeout


@pytest.fixture
def network(tmp_path: Path) -> Iterator[LocalNetwork]:
    network = LocalNetwork(tmp_path / "net", HUBS)
    network.start_all()
    yield network
    network.stop_all()


def hold_handshake(stack: ExitStack, port: int, context: ssl.SSLContext) -> None:
    """Upgrade to WebSocket and say nothing: the connection holds a handshake slot."""
    raw = stack.enter_context(socket.create_connection(("127.0.0.1", port), timeout=10))
    connection = stack.enter_context(context.wrap_socket(raw, server_hostname="127.0.0.1"))
    connection.sendall(make_upgrade_request(port))
    assert connection.recv(4096).startswith(b"HTTP/1.1 101"), "the held connection was not upgraded"


def test_a_stranger_refused_before_the_upgrade_is_cut_at_once(network: LocalNetwork) -> None:
    port = network.api_ports[TARGET] + len(HUBS)  # the harness puts peer ports after the API ports
    certificate, key = network.client_files(Identity(Role.BANK, "beijing"))
    context = make_client_context(network.ca_file, certificate_file=certificate, key_file=key)
    with ExitStack() as held:
        for _ in range(P2PSettings().handshakes_per_address_max):
            hold_handshake(held, port, context)
        started = time.monotonic()
        sent = send_oversized_frame(port, context, pipelined=True)  # refused 503: no slot left
        elapsed = time.monotonic() - started
    assert sent < FRAME_BYTES // 4, f"the hub read {sent} bytes of a refused stranger's frame"
    assert elapsed < CUT_WITHIN_S, f"the refused connection stayed open {elapsed:.1f} s"
