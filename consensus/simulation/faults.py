"""A fault plan: every fault of one run written down as data before it starts.

The swarm draws a plan from a seed and the explorer enumerates plans; the
simulator only applies them. A plan holds:

- ``Loss``: messages of some kinds, from some senders, lost to some receivers.
  A loss may hold for a span of virtual time, or for one *round*: the messages
  of one view, as in Twins, where a VIEW-CHANGE belongs to the view it leaves
  (it reports on it) and a state-transfer answer ("fetch") to the view the asker
  is in. A partition is a pair of losses; "commits reach only replica 0" is one.
- ``Crash``: a validator stops (memory lost, storage kept) at a moment, or right
  after it sends a message of one kind in one view (the new primary after its
  NEW-VIEW), and restarts after a delay.
- ``LinkSpan``: lossy or slow links (drops, duplicates, corruption, delays) for a span.
- ``ClockSkew``: a validator's clock runs off by an offset and a drift; the
  replica reads ``now_ms`` from it and its timers run on it.
- ``SoleHolderCut``: the first time the only honest replica holding the highest
  commit sends a message of one kind, it is cut off (both ways) for a while.

At ``faults_end_ms`` everything heals: losses and link faults stop, crashed
validators restart; clocks stay as they are.
"""

from __future__ import annotations

from dataclasses import dataclass

from consensus.messages import SignedMessage, ViewChange
from consensus.simulation.network import LinkFaults

FETCH = "fetch"  # the answer to a state-transfer request, carried outside the message door
KINDS = ("pre_prepare", "prepare", "commit", "checkpoint", "view_change", "new_view", "request_batch", FETCH)
ALWAYS_MS = 1 << 62


@dataclass(frozen=True)
class Loss:
    receivers: frozenset[int]  # validators
    kinds: frozenset[str] = frozenset()  # empty: every kind (and bytes that are no message)
    senders: frozenset[int] | None = None  # None: from anyone
    view: int | None = None  # the round it holds for; None: every view
    start_ms: int = 0  # from the start of the run
    end_ms: int = ALWAYS_MS

    def drops(self, kind: str | None, sender: int, receiver: int, view: int, at_ms: int) -> bool:
        return (
            receiver in self.receivers
            and (self.senders is None or sender in self.senders)
            and (not self.kinds or kind in self.kinds)
            and (self.view is None or self.view == view)
            and self.start_ms <= at_ms < self.end_ms
        )


def isolate(
    validator: int, nodes: int, *, view: int | None = None, start_ms: int = 0, end_ms: int = ALWAYS_MS
) -> tuple[Loss, Loss]:
    """Both directions of every link of ``validator`` cut (for a view or a span)."""
    alone = frozenset({validator})
    others = frozenset(range(nodes)) - alone
    return (
        Loss(receivers=alone, senders=others, view=view, start_ms=start_ms, end_ms=end_ms),
        Loss(receivers=others, senders=alone, view=view, start_ms=start_ms, end_ms=end_ms),
    )


@dataclass(frozen=True)
class Crash:
    validator: int
    restart_after_ms: int
    at_ms: int | None = None  # a moment; or, when None, a message that triggers it:
    after_kind: str = "new_view"  # right after it sends one of this kind
    view: int | None = None  # in this view (None: any)


@dataclass(frozen=True)
class LinkSpan:
    start_ms: int
    end_ms: int
    faults: LinkFaults


@dataclass(frozen=True)
class ClockSkew:
    offset_ms: int = 0
    drift_ppm: int = 0  # parts per million: +10_000 runs 1 % fast

    def local_ms(self, start_ms: int, now_ms: int) -> int:
        elapsed_ms = now_ms - start_ms
        return start_ms + self.offset_ms + elapsed_ms + elapsed_ms * self.drift_ppm // 1_000_000

    def virtual_delay_ms(self, delay_ms: int) -> int:
        """How long a timer the replica set for ``delay_ms`` on its clock takes in virtual time."""
        return delay_ms * 1_000_000 // (1_000_000 + self.drift_ppm)


@dataclass(frozen=True)
class SoleHolderCut:
    after_kind: str
    duration_ms: int


@dataclass(frozen=True)
class FaultPlan:
    faults_end_ms: int
    losses: tuple[Loss, ...] = ()
    crashes: tuple[Crash, ...] = ()
    links: tuple[LinkSpan, ...] = ()
    clocks: tuple[ClockSkew, ...] = ()  # one per validator, or none
    sole_holder_cut: SoleHolderCut | None = None
    transactions: int = 12  # workload spread over the faulty span
    description: tuple[str, ...] = ()  # what was drawn, for people

    def is_lost(
        self,
        kind: str | None,
        sender: int,
        receiver: int,
        view: int,
        at_ms: int,
        extra: tuple[Loss, ...] = (),
    ) -> bool:
        return any(loss.drops(kind, sender, receiver, view, at_ms) for loss in (*self.losses, *extra))

    def get_links(self, at_ms: int) -> LinkFaults | None:
        for span in self.links:
            if span.start_ms <= at_ms < span.end_ms:
                return span.faults
        return None


def get_round(message: SignedMessage | None, sender_view: int) -> int:
    """The view a message belongs to: its own, a VIEW-CHANGE's the view it leaves, and a
    CHECKPOINT's or request batch's the view its sender is in."""
    if message is None:
        return sender_view
    body = message.body
    if isinstance(body, ViewChange):
        return max(int(body.view) - 1, 0)
    view = getattr(body, "view", None)
    return sender_view if view is None else int(view)
