"""A replica's state at a glance, for the node's status page and metrics."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from ledger.types import Height, ValidatorIndex, View


@dataclass(frozen=True)
class ReplicaStatus:
    view: View
    primary: ValidatorIndex
    is_primary: bool
    committed_height: Height
    stable_checkpoint: Height
    in_flight: int  # proposed and not yet delivered, in this view
    pending_transactions: int
    view_change_in_progress: bool
    view_changes: int
    state_transfers: int
    evidence_recorded: int
    dropped: Mapping[str, int]  # messages dropped, by reason
    blamed: Mapping[ValidatorIndex, int]  # bad state-transfer answers, by peer
    liveness_concern: str | None = None  # why it cannot take part in ordering now (``/readyz``)
    resumed_late: int = 0  # timers that fired so late the process must have been paused
    retransmits: int = 0  # times it sent its own votes for stuck blocks again
    slow_primaries: int = 0  # primaries it suspected for ordering far below what it offered them
