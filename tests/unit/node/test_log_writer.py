"""The consensus log written off the loop: nothing sent after a Persist leaves before it is on disk."""

import asyncio
import functools
import threading

from node.log_writer import ConsensusLogWriter
from storage.consensus_log import ConsensusLogStore
from storage.kv import MemoryStore, WriteBatch
from tests.waiting import wait_until


class GatedStore(MemoryStore):
    """An in-memory store whose writes wait until the test opens the gate, and are counted."""

    def __init__(self) -> None:
        super().__init__()
        self.gate = threading.Event()
        self.writes = 0

    def write(self, batch: WriteBatch, *, sync: bool = True) -> None:
        self.gate.wait(timeout=5)
        self.writes += 1
        super().write(batch, sync=sync)


async def test_a_message_after_a_persist_waits_for_the_write_and_order_is_kept() -> None:
    kv = GatedStore()
    writer = ConsensusLogWriter(ConsensusLogStore(kv))
    sent: list[str] = []
    writer.send_when_durable(lambda: sent.append("before"))
    assert sent == ["before"]  # nothing to wait for
    writer.persist([(b"vote", b"1")], [])
    writer.send_when_durable(lambda: sent.append("after"))
    await asyncio.sleep(0.05)
    assert sent == ["before"]
    assert ConsensusLogStore(kv).load() == []
    kv.gate.set()
    await wait_until(lambda: sent == ["before", "after"], "the held message to be sent")
    assert ConsensusLogStore(kv).load() == [(b"vote", b"1")]
    await writer.drain()


async def test_persists_waiting_behind_a_write_share_one_synced_batch() -> None:
    kv = GatedStore()
    writer = ConsensusLogWriter(ConsensusLogStore(kv))
    sent: list[int] = []
    writer.persist([(b"a", b"1")], [])
    writer.send_when_durable(lambda: sent.append(1))
    for index in range(2, 6):
        writer.persist([(b"k%d" % index, b"v")], [b"a"] if index == 5 else [])
        writer.send_when_durable(functools.partial(sent.append, index))
    kv.gate.set()
    await wait_until(lambda: sent == [1, 2, 3, 4, 5], "every held message, in order")
    await writer.drain()
    assert kv.writes == 2  # the first Persist, then the four that queued behind it
    assert [key for key, _ in ConsensusLogStore(kv).load()] == [b"k2", b"k3", b"k4", b"k5"]


async def test_a_failed_write_holds_back_everything_after_it() -> None:
    class BrokenStore(MemoryStore):
        def write(self, batch: WriteBatch, *, sync: bool = True) -> None:
            raise OSError("disk gone")

    writer = ConsensusLogWriter(ConsensusLogStore(BrokenStore()))
    sent: list[str] = []
    writer.persist([(b"vote", b"1")], [])
    writer.send_when_durable(lambda: sent.append("vote"))
    await writer.drain()
    assert sent == []
    assert writer.held_count == 1


async def test_a_failed_write_tells_the_node_why_once() -> None:
    class BrokenStore(MemoryStore):
        def write(self, batch: WriteBatch, *, sync: bool = True) -> None:
            raise OSError("disk gone")

    reasons: list[str] = []
    writer = ConsensusLogWriter(ConsensusLogStore(BrokenStore()), on_failure=reasons.append)
    writer.persist([(b"vote", b"1")], [])
    writer.persist([(b"vote", b"2")], [])
    await writer.drain()
    assert reasons == ["disk gone"]
