"""Bad clients for the edge tests: each from its own loopback address, so the hub can tell them apart."""

from __future__ import annotations

import asyncio
import http.client
import socket
import ssl
import time
from pathlib import Path

from tests.integration.harness import LocalNetwork


def tls_context(network: LocalNetwork, certificate: tuple[Path, Path] | None = None) -> ssl.SSLContext:
    """Trusts the network's CA (names unchecked: the peer port names no host); presents ``certificate``."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.load_verify_locations(network.ca_file)
    if certificate is not None:
        context.load_cert_chain(*certificate)
    return context


def connect(port: int, source: str) -> socket.socket:
    return socket.create_connection(("127.0.0.1", port), timeout=10, source_address=(source, 0))


def is_refused(port: int, source: str, context: ssl.SSLContext) -> bool:
    """True when the hub ends the connection before answering a request sent over it."""
    try:
        with connect(port, source) as raw, context.wrap_socket(raw) as tls:
            tls.sendall(b"GET /healthz HTTP/1.1\r\nHost: hub\r\n\r\n")
            return tls.recv(1024) == b""  # TLS 1.3: the verdict on a client certificate comes late
    except (ssl.SSLError, ConnectionError):
        return True


def send_garbage_hello(port: int, source: str) -> bool:
    """A TLS record header announcing a handshake, then bytes that are none: True when the hub hangs up."""
    with connect(port, source) as raw:
        raw.sendall(b"\x16\x03\x01\x00\xc8" + bytes(range(200)))
        wait_closed_by_hub(raw, 10.0)  # an alert may come first, then the end
        return True


def wait_closed_by_hub(sock: socket.socket, deadline_s: float) -> float:
    """Seconds until the hub closed ``sock`` (it reads b"" or is reset); fails past ``deadline_s``."""
    started = time.monotonic()
    sock.settimeout(deadline_s)
    try:
        while sock.recv(1024):
            pass
    except (ConnectionError, ssl.SSLError):
        pass
    except TimeoutError:
        raise AssertionError(f"the hub kept a slow connection open for {deadline_s} s") from None
    return time.monotonic() - started


def open_slow_tls(port: int, source: str, context: ssl.SSLContext) -> ssl.SSLSocket:
    """TLS, then the first line of a request and no more: its headers never end."""
    tls = context.wrap_socket(connect(port, source))
    tls.sendall(b"GET /healthz HTTP/1.1\r\nHost: hub\r\n")
    return tls


def open_slow_handshake(port: int, source: str) -> socket.socket:
    """The first bytes of a TLS ClientHello and no more."""
    raw = connect(port, source)
    raw.sendall(b"\x16\x03\x01\x02\x00\x01")
    return raw


async def hold_connections(port: int, source: str, context: ssl.SSLContext, count: int) -> tuple[int, int]:
    """Open ``count`` TLS connections at once, each asking one request, and hold every one open
    until all have their outcome. Returns (answered, opened): how many got an answer, and how many
    got through their TLS handshake."""
    writers: list[asyncio.StreamWriter] = []

    async def one() -> tuple[bool, bool]:
        try:
            reader, writer = await asyncio.wait_for(
                asyncio.open_connection("127.0.0.1", port, ssl=context, local_addr=(source, 0)), 60
            )
        except (OSError, TimeoutError, ssl.SSLError):
            return False, False
        writers.append(writer)
        try:
            writer.write(b"GET /healthz HTTP/1.1\r\nHost: hub\r\n\r\n")
            return True, bool(await asyncio.wait_for(reader.read(64), 60))
        except (OSError, TimeoutError, ssl.SSLError):
            return True, False

    outcomes = await asyncio.gather(*(one() for _ in range(count)))
    for writer in writers:
        writer.close()
    return sum(answered for _, answered in outcomes), sum(opened for opened, _ in outcomes)


def get_status(
    port: int, path: str, source: str, context: ssl.SSLContext
) -> tuple[int, dict[str, str], bytes]:
    connection = http.client.HTTPSConnection(
        "127.0.0.1", port, timeout=10, source_address=(source, 0), context=context
    )
    try:
        connection.request("GET", path)
        answer = connection.getresponse()
        return answer.status, dict(answer.getheaders()), answer.read()
    finally:
        connection.close()


def read_resident_bytes(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise AssertionError(f"/proc/{pid}/status has no VmRSS")
