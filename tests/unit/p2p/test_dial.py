"""A dial task always comes back to redial: no wait of one attempt is without end, and nothing
one attempt raises ends the task (the pair would stay unlinked for good, without a word)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import Any

import aiohttp
import pytest
from aiohttp import WSMessage, WSMsgType

import p2p.endpoints
import p2p.network
from ledger.keys import PrivateKey
from p2p import P2PSettings, PeerNetwork
from p2p.endpoints import CLOSE_REFUSED
from tests.waiting import wait_until

KEYS = [PrivateKey.from_secret(8_100 + index) for index in range(2)]
QUICK = P2PSettings(reconnect_initial_ms=1, reconnect_max_ms=10, handshake_timeout_ms=1_000)


class RefusingPeer:
    """The dialled side of a refused handshake as a process back from a pause finds it: the peer's
    CLOSE (it gave up on us while we slept) is waiting, and our own closing handshake never ends
    (sending our CLOSE waits on a transport paused for writing, or the peer never answers it)."""

    def __init__(self) -> None:
        self.closes = 0

    def get_extra_info(self, name: str) -> Any:
        return None

    async def send_bytes(self, data: bytes) -> None:
        return None

    async def receive(self) -> WSMessage:
        return WSMessage(WSMsgType.CLOSE, CLOSE_REFUSED, "timeout")

    async def close(self, **_: Any) -> bool:
        self.closes += 1
        await asyncio.Event().wait()  # never set
        return True


class FakeSession:
    """Stands in for aiohttp.ClientSession: each dial gets what ``connect`` makes of its number."""

    def __init__(self, connect: Callable[[int], Any]) -> None:
        self._connect = connect
        self.dials = 0

    async def ws_connect(self, url: str, **_: Any) -> Any:
        self.dials += 1
        return self._connect(self.dials)

    async def close(self) -> None:
        return None


@pytest.fixture
async def dial_with(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Callable[[FakeSession], Any]]:
    networks: list[PeerNetwork] = []
    # Short closing handshakes keep the test quick; what matters is that they end at all.
    monkeypatch.setattr(p2p.endpoints, "CLOSE_TIMEOUT_S", 0.05)
    monkeypatch.setattr(p2p.network, "CLOSE_TIMEOUT_S", 0.05)

    async def start(session: FakeSession) -> PeerNetwork:
        monkeypatch.setattr(aiohttp, "ClientSession", lambda: session)
        network = PeerNetwork(
            chain_id="hubledger-dial-test", validator_keys=[key.public_key.data for key in KEYS],
            self_index=0, key=KEYS[0], peer_urls={1: "ws://127.0.0.1:9/p2p"},
            on_message=lambda peer, payload: None, settings=QUICK,
        )
        networks.append(network)
        await network.start()
        return network

    yield start
    for network in networks:
        await asyncio.wait_for(network.stop(), timeout=5)


async def test_a_refused_dial_whose_close_never_ends_is_redialled(
    dial_with: Callable[[FakeSession], Any],
) -> None:
    peers: list[RefusingPeer] = []

    def connect(dial: int) -> RefusingPeer:
        peers.append(RefusingPeer())
        return peers[-1]

    session = FakeSession(connect)
    await dial_with(session)
    await wait_until(lambda: session.dials >= 3, "the dial task to redial after stuck closes")
    assert all(peer.closes >= 1 for peer in peers[:2])


async def test_a_stray_cancellation_of_one_dial_does_not_end_the_dial_task(
    dial_with: Callable[[FakeSession], Any],
) -> None:
    def connect(dial: int) -> Any:
        if dial == 1:  # a deadline inside the client that fired late, not stop()
            raise asyncio.CancelledError
        raise aiohttp.ClientConnectionError("connection refused")

    session = FakeSession(connect)
    await dial_with(session)
    await wait_until(lambda: session.dials >= 3, "the dial task to redial after a stray cancellation")


async def test_a_dial_task_that_ends_while_the_network_runs_is_started_again(
    dial_with: Callable[[FakeSession], Any],
) -> None:
    def connect(dial: int) -> Any:
        raise aiohttp.ClientConnectionError("connection refused")

    session = FakeSession(connect)
    await dial_with(session)
    for task in asyncio.all_tasks():
        if task.get_name() == "p2p-dial-1":
            task.cancel()  # whatever ended it, the pair must not stay unlinked
    dials = session.dials
    await wait_until(lambda: session.dials > dials + 2, "a new dial task to dial")
    dialling = [task for task in asyncio.all_tasks() if task.get_name() == "p2p-dial-1" and not task.done()]
    assert len(dialling) == 1
