"""A dial its peer gave up on before it was accepted (it waited in the listen queue of a paused
process) is dropped quietly: aiohttp used to log each as a plain-text traceback of
ClientConnectionResetError, and a resumed hub wrote a screenful of them into its JSON log."""

from __future__ import annotations

import asyncio
import base64
import logging
import os
import socket
import ssl
import struct
from collections.abc import Callable

import pytest

from ledger.tls_identity import Identity, Role
from tests.integration.p2p.cluster import Cluster, hub_name


def dial_and_abandon(port: int, context: ssl.SSLContext) -> None:
    """Over a TLS session of a genuine peer certificate (peer links are TLS only), send a whole
    WebSocket upgrade request, then reset the connection before any answer."""
    key = base64.b64encode(os.urandom(16)).decode()
    request = (
        f"GET /p2p HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
    )
    with (
        socket.create_connection(("127.0.0.1", port)) as raw,
        context.wrap_socket(raw, server_hostname="127.0.0.1") as sock,
    ):
        sock.sendall(request.encode())
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))  # close = reset


async def test_a_dial_reset_before_its_upgrade_is_answered_logs_no_error(
    make_cluster: Callable[[int], Cluster], caplog: pytest.LogCaptureFixture
) -> None:
    cluster = make_cluster(2)
    node = await cluster.start_node(1)
    caplog.set_level(logging.WARNING)
    context = cluster.tls.peer_tls(Identity(Role.HUB, hub_name(0))).client_context
    for _ in range(20):
        await asyncio.to_thread(dial_and_abandon, cluster.ports[1], context)  # the loop does its side
        await asyncio.sleep(0.01)  # the server reads the request and the reset together, or nearly
    await cluster.start_node(0)  # a real peer links after them: the abandoned ones are behind it
    await cluster.wait_all_connected()
    assert node.network.connected_peers() == [0]
    errors = [record for record in caplog.records if record.levelno >= logging.WARNING]
    assert errors == [], [f"{r.name}: {r.getMessage()}" for r in errors]
