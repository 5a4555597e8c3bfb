"""Link fault injection for testers: drop, delay or block the payloads of chosen peers.

Rules act on payload frames (one-way messages, requests and responses), in
the direction(s) a rule names, at this node only: to cut a peer off from the
whole network, give every node a rule for it. A partitioned link stays open
(WebSocket pings still pass) but no payload crosses it either way, so
consensus sees exactly what a partition shows it, and healing is immediate.
Default: no rules.
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import Enum
from types import MappingProxyType

from p2p.errors import SettingsInvalid

DELAY_MS_MAX = 60_000


class Direction(Enum):
    BOTH = "both"
    OUTBOUND = "outbound"  # payloads we send to the peer
    INBOUND = "inbound"  # payloads the peer sends to us


@dataclass(frozen=True)
class LinkRule:
    """What happens to payloads between this node and one peer."""

    drop_fraction: float = 0.0  # each payload is dropped independently with this probability
    delay_ms: int = 0  # each payload is held this long (order on the link is kept)
    partitioned: bool = False  # no payload passes
    direction: Direction = Direction.BOTH

    def __post_init__(self) -> None:
        if not 0.0 <= self.drop_fraction <= 1.0:
            raise SettingsInvalid(f"drop_fraction must be between 0 and 1, not {self.drop_fraction}")
        if not 0 <= self.delay_ms <= DELAY_MS_MAX:
            raise SettingsInvalid(f"delay_ms must be between 0 and {DELAY_MS_MAX}, not {self.delay_ms}")

    def is_applied(self, *, outbound: bool) -> bool:
        if self.direction is Direction.BOTH:
            return True
        return self.direction is (Direction.OUTBOUND if outbound else Direction.INBOUND)


NO_RULE = LinkRule()


@dataclass(frozen=True)
class LinkRules:
    """Per-peer rules; peers without one are untouched."""

    peers: Mapping[int, LinkRule] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "peers", MappingProxyType(dict(self.peers)))

    @classmethod
    def partition(cls, peers: Iterable[int]) -> LinkRules:
        return cls({peer: LinkRule(partitioned=True) for peer in peers})

    def get_rule(self, peer: int) -> LinkRule:
        return self.peers.get(peer, NO_RULE)


def get_drop_reason(rule: LinkRule, rng: random.Random, *, outbound: bool) -> str | None:
    """The reason a payload is dropped under ``rule``, or None when it passes."""
    if rule is NO_RULE or not rule.is_applied(outbound=outbound):
        return None
    if rule.partitioned:
        return "partitioned"
    if rule.drop_fraction > 0.0 and rng.random() < rule.drop_fraction:
        return "link_rule_drop"
    return None


def get_delay_ms(rule: LinkRule, *, outbound: bool) -> int:
    return rule.delay_ms if rule.is_applied(outbound=outbound) else 0
