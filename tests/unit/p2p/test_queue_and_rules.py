"""The send queue keeps its bound by evicting the oldest one-way message; link rules validate and apply."""

from __future__ import annotations

import random

import pytest

from p2p import Direction, LinkRule, LinkRules, SettingsInvalid
from p2p.faults import get_delay_ms, get_drop_reason
from p2p.queue import Outbound, SendQueue


def item(name: str, *, essential: bool = False) -> Outbound:
    return Outbound(name.encode(), len(name), essential, 0.0)


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
