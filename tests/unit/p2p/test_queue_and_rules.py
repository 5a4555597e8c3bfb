"""The send queue keeps its bound by evicting the oldest one-way message; link rules validate and apply."""

from __future__ import annotations

import asyncio
import random
from collections import Counter

import pytest

from p2p import Direction, LinkRule, LinkRules, SettingsInvalid
from p2p.faults import get_delay_ms, get_drop_reason
from p2p.queue import Outbound, SendQueue


def item(name: str, *, essential: bool = False, at_s: float = 0.0) -> Outbound:
    return Outbound(name.encode(), len(name), essential, at_s)


async def test_a_full_queue_evicts_the_oldest_message_but_never_a_request() -> None:
    queue = SendQueue(3)
    request, first, second = item("request", essential=True), item("first"), item("second")
    for queued in (request, first, second):
        assert queue.put(queued) is None
    assert queue.put(item("third")) == first
    assert [await queue.get() for _ in range(3)] == [request, second, item("third")]


async def test_a_queue_full_of_requests_refuses_the_newcomer() -> None:
    queue = SendQueue(2)
    queue.put(item("a", essential=True))
    queue.put(item("b", essential=True))
    newcomer = item("c")
    assert queue.put(newcomer) is newcomer
    assert len(queue) == 2
    assert queue.clear() == 2 and len(queue) == 0


async def test_messages_that_waited_too_long_expire_and_are_counted_but_requests_never_do() -> None:
    now_s = asyncio.get_running_loop().time()
    dropped: Counter[str] = Counter()
    queue = SendQueue(100, age_max_s=5.0, dropped=dropped)
    stale, request = item("stale", at_s=now_s - 60), item("request", essential=True, at_s=now_s - 60)
    for queued in (stale, item("old", at_s=now_s - 30), request, item("behind", at_s=now_s - 20)):
        queue.put(queued)
    fresh = item("fresh", at_s=now_s)
    queue.put(fresh)  # a put sweeps the head: the peer was away, so the queue does not grow without end
    assert len(queue) == 3 and dropped["expired"] == 2
    assert await queue.get() == request
    assert await queue.get() == fresh  # "behind" expired at the head once the request was sent
    assert dropped == Counter(expired=3)


async def test_a_queue_without_an_age_limit_keeps_old_messages() -> None:
    queue = SendQueue(10)
    old = item("old", at_s=asyncio.get_running_loop().time() - 3600)
    queue.put(old)
    assert await queue.get() == old


def test_link_rules_are_validated() -> None:
    with pytest.raises(SettingsInvalid):
        LinkRule(drop_fraction=1.5)
    with pytest.raises(SettingsInvalid):
        LinkRule(delay_ms=-1)


def test_partition_drops_both_ways_and_only_for_the_named_peers() -> None:
    rules = LinkRules.partition([1, 3])
    rng = random.Random(1)
    for outbound in (True, False):
        assert get_drop_reason(rules.get_rule(1), rng, outbound=outbound) == "partitioned"
        assert get_drop_reason(rules.get_rule(2), rng, outbound=outbound) is None


def test_drop_fraction_and_direction() -> None:
    rule = LinkRule(drop_fraction=0.25, delay_ms=40, direction=Direction.OUTBOUND)
    rng = random.Random(7)
    dropped = sum(get_drop_reason(rule, rng, outbound=True) is not None for _ in range(4000))
    assert 800 < dropped < 1200
    assert all(get_drop_reason(rule, rng, outbound=False) is None for _ in range(100))
    assert (get_delay_ms(rule, outbound=True), get_delay_ms(rule, outbound=False)) == (40, 0)
