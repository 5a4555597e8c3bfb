"""The WAN relay on real sockets of 127.0.0.1: it delays each direction, keeps byte order under
jitter, cuts and heals a link, and refuses a connection from an address no hub dials from."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import pytest

from hubledger_tools.ports import find_port_base
from hubledger_tools.wan.relay import Listener, Relay, RelaySpec, apply_command

ONE_WAY_MS = 30
JITTER_MS = 10  # large beside the 1 ms between writes: a later chunk is often due earlier


async def _echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    except ConnectionError:
        pass  # the relay cut the link
    writer.close()


@pytest.fixture
async def relay() -> AsyncIterator[tuple[Relay, int]]:
    base = find_port_base(2)
    echo = await asyncio.start_server(_echo, "127.0.0.1", base + 1)
    spec = RelaySpec(
        listeners=(Listener("b", ("127.0.0.1", base), ("127.0.0.1", base + 1)),),
        sources={"127.0.0.1": "a"},
        one_way_ms={"a>b": ONE_WAY_MS, "b>a": ONE_WAY_MS},
        jitter_ms=JITTER_MS,
        seed=7,
    )
    relay = Relay(spec)
    await relay.start()
    yield relay, base
    await relay.close()
    echo.close()
    await echo.wait_closed()


async def _round_trip_s(port: int, payload: bytes) -> tuple[float, bytes]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    started = time.monotonic()
    writer.write(payload)
    await writer.drain()
    echoed = await reader.readexactly(len(payload))
    elapsed_s = time.monotonic() - started
    writer.close()
    return elapsed_s, echoed


async def test_a_round_trip_takes_both_one_way_delays(relay: tuple[Relay, int]) -> None:
    elapsed_s, echoed = await _round_trip_s(relay[1], b"ping")
    assert echoed == b"ping"
    assert elapsed_s >= 2 * (ONE_WAY_MS - JITTER_MS) / 1000


async def test_bytes_keep_their_order_under_jitter(relay: tuple[Relay, int]) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", relay[1])
    sent = b""
    for index in range(200):
        chunk = f"{index:05d};".encode()
        sent += chunk
        writer.write(chunk)
        await writer.drain()
        await asyncio.sleep(0.001)  # separate reads in the relay, each with its own jitter
    assert await reader.readexactly(len(sent)) == sent
    writer.close()


async def test_a_cut_link_drops_its_connections_and_refuses_new_ones_until_healed(
    relay: tuple[Relay, int],
) -> None:
    link_relay, port = relay
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(b"x")
    assert await reader.readexactly(1) == b"x"
    assert apply_command(link_relay, ["cut", "a", "b"]) == "ok"
    assert await _read_until_closed(reader) == b""
    fresh_reader, fresh_writer = await asyncio.open_connection("127.0.0.1", port)
    assert await _read_until_closed(fresh_reader) == b""  # accepted by the kernel, then dropped
    fresh_writer.close()
    assert apply_command(link_relay, ["heal"]) == "ok"
    assert (await _round_trip_s(port, b"back"))[1] == b"back"


async def test_commands_it_does_not_know_are_answered_with_an_error(relay: tuple[Relay, int]) -> None:
    assert apply_command(relay[0], ["cut", "a", "nowhere"]).startswith("error: ")
    assert apply_command(relay[0], ["partition"]).startswith("error: ")


async def test_an_address_no_hub_dials_from_is_refused(relay: tuple[Relay, int]) -> None:
    link_relay, port = relay
    link_relay.spec.sources.clear()
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(b"hello")
    assert await _read_until_closed(reader) == b""
    writer.close()


async def _read_until_closed(reader: asyncio.StreamReader) -> bytes:
    try:
        return await asyncio.wait_for(reader.read(), timeout=5)
    except ConnectionResetError:
        return b""
