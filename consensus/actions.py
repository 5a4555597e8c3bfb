"""What the replica asks its driver to do.

The driver runs the actions of one answer in list order, and finishes a
``Persist`` (a synced write to the consensus log) before it runs any action
after it: a vote is on disk before it leaves the process.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from consensus.evidence import Evidence
from consensus.messages import SignedMessage
from ledger.block import Block
from ledger.certificate import CommitCertificate
from ledger.types import Height, ValidatorIndex, View


class TimerKind(Enum):
    BATCH = "batch"  # the primary waits batch_delay_ms for a fuller block
    PROGRESS = "progress"  # a block in flight that does not commit in time starts a view change
    REQUEST = "request"  # a backup's forwarded requests see no progress: start a view change
    VIEW_CHANGE = "view_change"  # no NEW-VIEW in time: try the next view
    FETCH = "fetch"  # retry state transfer after every peer failed once
    NEW_VIEW = "new_view"  # a new primary stops waiting for VIEW-CHANGEs whose start f + 1 hold
    RETRANSMIT = "retransmit"  # half a view timeout with a block in flight: send own votes again


@dataclass(frozen=True, slots=True)
class Timer:
    """Hashable: setting a timer that is already set replaces it."""

    kind: TimerKind
    view: View = View(0)  # noqa: RUF009 - NewType of int is the int itself
    height: Height = Height(0)  # noqa: RUF009


@dataclass(frozen=True, slots=True)
class Send:
    to: ValidatorIndex
    message: SignedMessage


@dataclass(frozen=True, slots=True)
class Broadcast:
    """Send to every validator but this one."""

    message: SignedMessage


@dataclass(frozen=True, slots=True)
class Persist:
    """A synced write to the consensus log, completed before any later action runs."""

    puts: tuple[tuple[bytes, bytes], ...]
    deletes: tuple[bytes, ...] = ()


@dataclass(frozen=True, slots=True)
class Deliver:
    """Commit ``block``; the replica emits these in height order, once per height."""

    block: Block
    certificate: CommitCertificate


@dataclass(frozen=True, slots=True)
class SetTimer:
    timer: Timer
    delay_ms: int


@dataclass(frozen=True, slots=True)
class CancelTimer:
    timer: Timer


@dataclass(frozen=True, slots=True)
class Fetch:
    """Ask ``peer`` for the certified blocks from_height..to_height (inclusive) and
    hand the answer, or an empty sequence on any failure, to ``Replica.on_fetched``."""

    peer: ValidatorIndex
    from_height: Height
    to_height: Height


@dataclass(frozen=True, slots=True)
class RecordEvidence:
    evidence: Evidence


Action = Send | Broadcast | Persist | Deliver | SetTimer | CancelTimer | Fetch | RecordEvidence
