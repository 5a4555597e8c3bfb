"""Byzantine behaviours: small named wrappers around an honest replica's outgoing messages.

A faulty validator runs the honest ``Replica`` unchanged; its behaviour sits
between the replica and the network and decides what actually leaves: every
message the replica sends passes through ``on_send``, which returns the
emissions (recipient, bytes, delay). The honest behaviour sends each message
as it is. The same wrappers run in the simulator and, through
``node.byzantine``, in a real node process, so a tester sees one catalogue.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import ClassVar

from consensus.messages import Body, SignedMessage, sign_message
from consensus.simulation.randomness import RandomSource
from ledger.keys import PrivateKey
from ledger.types import Hash, ValidatorIndex


@dataclass(frozen=True)
class Emission:
    to: ValidatorIndex
    data: bytes
    delay_ms: int = 0
    message: SignedMessage | None = None  # None: the bytes are not a well-formed message


@dataclass
class Collusion:
    """What colluding faulty validators share: which honest replicas see which of two
    conflicting blocks, and the pairs of conflicting block hashes made so far."""

    members: frozenset[ValidatorIndex]
    side_a: frozenset[ValidatorIndex]
    side_b: frozenset[ValidatorIndex]
    twins: dict[Hash, Hash] = field(default_factory=dict)  # hash -> its conflicting twin
    on_side_b: set[Hash] = field(default_factory=set)  # hashes shown to side_b

    def pair(self, shown_a: Hash, shown_b: Hash) -> None:
        self.twins[shown_a] = shown_b
        self.twins[shown_b] = shown_a
        self.on_side_b.add(shown_b)

    def get_audience(self, digest: Hash) -> frozenset[ValidatorIndex]:
        return (self.side_b if digest in self.on_side_b else self.side_a) | self.members


@dataclass
class BehaviourContext:
    chain_id: str
    validator_count: int
    self_index: ValidatorIndex
    key: PrivateKey
    rng: RandomSource
    view_timeout_ms: int
    collusion: Collusion | None = None

    def sign(self, body: Body) -> SignedMessage:
        return sign_message(body, chain_id=self.chain_id, sender=self.self_index, key=self.key)

    @property
    def peers(self) -> list[ValidatorIndex]:
        return [ValidatorIndex(i) for i in range(self.validator_count) if i != self.self_index]


def emit(message: SignedMessage, recipients: Sequence[ValidatorIndex], delay_ms: int = 0) -> list[Emission]:
    data = message.encode()
    return [Emission(to, data, delay_ms, message) for to in recipients]


class Behaviour:
    """Honest: every message goes to its recipients at once, unchanged."""

    name: ClassVar[str] = "honest"
    is_faulty: ClassVar[bool] = False
    counts_conflicts: ClassVar[bool] = False  # signs conflicting messages: evidence is expected

    def __init__(self, context: BehaviourContext) -> None:
        self.context = context
        self.sent = 0
        self.conflicts_sent = 0

    def on_send(
        self, message: SignedMessage, recipients: Sequence[ValidatorIndex], now_ms: int
    ) -> list[Emission]:
        self.sent += 1
        return self.transform(message, list(recipients), now_ms)

    def transform(
        self, message: SignedMessage, recipients: list[ValidatorIndex], now_ms: int
    ) -> list[Emission]:
        return emit(message, recipients)
