"""How a hub rations rebuilds of earlier states (node/state_proofs.py): one at a time, then a
rest as long as the rebuild took, timed by its thread whatever became of its request; the
latest height never waits; closing stops a running rebuild and waits for its thread."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path
from typing import Any

import pytest

from ledger.types import Address
from node import state_proofs
from node.standing import NotServing
from node.state_proofs import AccountProver
from tests.unit.node.audit_chain import AuditChain, build_audit_chain

BLOCKS = 4


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def audit(tmp_path: Path) -> AuditChain:
    return build_audit_chain(tmp_path / "net", block_count=BLOCKS, transfers_per_block=2)


@pytest.fixture
def gate(monkeypatch: pytest.MonkeyPatch) -> threading.Event:
    """Rebuild threads wait for this before they read anything."""
    release = threading.Event()
    real = state_proofs._prove_in_view

    def held(*arguments: Any) -> Any:
        release.wait(timeout=10)
        return real(*arguments)

    monkeypatch.setattr(state_proofs, "_prove_in_view", held)
    return release


async def start_rebuild(prover: AccountProver, address: Address, height: int) -> asyncio.Task[Any]:
    request = asyncio.create_task(prover.prove(address, height))

    async def started() -> None:
        while prover._rebuild is None:
            await asyncio.sleep(0.001)

    await asyncio.wait_for(started(), timeout=10)
    return request


def address_of(audit: AuditChain) -> Address:
    return audit.account_key("bank-beijing").public_key.address


def test_rebuilds_take_turns_with_rests_as_long_as_themselves_and_the_latest_is_always_served(
    audit: AuditChain, gate: threading.Event
) -> None:
    clock = Clock()

    async def scenario() -> None:
        prover = AccountProver(audit.chain, audit.kv, history_blocks=BLOCKS, clock=clock)
        first = await start_rebuild(prover, address_of(audit), 1)
        with pytest.raises(NotServing) as busy:
            await prover.prove(address_of(audit), 2)  # while the first runs
        assert (busy.value.code, busy.value.retry_after_s) == ("BUSY", 1)
        assert (await prover.prove(address_of(audit), None) or {})["height"] == BLOCKS  # no rebuild
        clock.now += 3.2  # the first rebuild takes 3.2 s
        gate.set()
        assert (await first or {})["height"] == 1
        clock.now += 3.0  # rested 3 s of 3.2
        with pytest.raises(NotServing) as resting:
            await prover.prove(address_of(audit), 2)
        assert (resting.value.code, resting.value.retry_after_s) == ("BUSY", 1)
        clock.now += 0.2
        assert (await prover.prove(address_of(audit), 2) or {})["height"] == 2

    asyncio.run(scenario())


def test_a_cancelled_request_does_not_cut_the_rest_short(audit: AuditChain, gate: threading.Event) -> None:
    clock = Clock()

    async def scenario() -> None:
        prover = AccountProver(audit.chain, audit.kv, history_blocks=BLOCKS, clock=clock)
        request = await start_rebuild(prover, address_of(audit), 1)
        request.cancel()
        await asyncio.wait([request])  # the request is gone; its thread runs on
        assert request.cancelled()
        clock.now += 1.5
        with pytest.raises(NotServing) as running:
            await prover.prove(address_of(audit), 2)
        assert running.value.retry_after_s == 3  # twice what it has run so far
        clock.now += 0.5  # the thread ends 2 s after it started
        gate.set()
        rebuild = prover._rebuild
        assert rebuild is not None
        await asyncio.wait([rebuild])
        await asyncio.sleep(0)  # its done callback
        clock.now += 1.9
        with pytest.raises(NotServing) as resting:
            await prover.prove(address_of(audit), 2)
        assert resting.value.retry_after_s == 1
        clock.now += 0.1
        assert (await prover.prove(address_of(audit), 2) or {})["height"] == 2

    asyncio.run(scenario())


def test_closing_stops_and_waits_for_a_rebuild_whose_request_was_cancelled(
    audit: AuditChain, gate: threading.Event
) -> None:
    """The store closes after the API: a thread still reading its snapshot is told to stop and
    is waited for."""

    async def scenario() -> None:
        prover = AccountProver(audit.chain, audit.kv, history_blocks=BLOCKS)
        request = await start_rebuild(prover, Address(b"\x42" * 20), 1)
        request.cancel()
        closing = asyncio.create_task(prover.close())
        await asyncio.sleep(0.05)
        assert not closing.done()  # still waiting for the thread
        gate.set()
        await asyncio.wait_for(closing, timeout=10)
        rebuild = prover._rebuild
        assert rebuild is not None and rebuild.done()
        stopped = rebuild.exception()
        assert stopped is not None and getattr(stopped, "code", None) == "STORE_CLOSED"  # it read no further

    asyncio.run(scenario())
