"""What a replica shows of itself: its status for the node's status page and metrics, its
invariants for the tests and the simulator, and a few read-only properties."""

from __future__ import annotations

from consensus.replica.core import ReplicaCore
from consensus.replica.invariants import check_invariants
from consensus.status import ReplicaStatus
from consensus.view_change import get_primary
from ledger.types import Height, View


class ReportingMixin(ReplicaCore):
    def check_invariants(self) -> None:
        """Raise InvariantViolation if the state breaks a written rule (``invariants``)."""
        check_invariants(self)

    def get_status(self) -> ReplicaStatus:
        in_flight = sum(1 for slot in self._slots.values() if slot.block is not None)
        return ReplicaStatus(
            view=self._view,
            primary=get_primary(self._view, self._n),
            is_primary=self._is_primary(),
            committed_height=self._committed_height,
            stable_checkpoint=self._stable.height,
            in_flight=in_flight,
            pending_transactions=len(self._requests),
            view_change_in_progress=self._changing,
            view_changes=self._view_change_count,
            state_transfers=self._state_transfer_count,
            evidence_recorded=self._evidence_count,
            dropped=dict(self._dropped),
            blamed=dict(self._blamed),
            liveness_concern=self.get_liveness_concern(),
            resumed_late=self._resumed_count,
            retransmits=self._retransmit_count,
            slow_primaries=self._slow_primary_count,
        )

    @property
    def faults(self) -> dict[str, int]:
        """Messages dropped, by reason."""
        return dict(self._dropped)

    @property
    def committed_height(self) -> Height:
        return self._committed_height

    @property
    def view(self) -> View:
        return self._view

    @property
    def low_water_mark(self) -> Height:
        """The stable checkpoint, the committed height and the start the current view's
        NEW-VIEW proved, whichever is highest: nothing at or below it is proposed, prepared or
        committed in this view but that NEW-VIEW's re-proposals."""
        return self._get_low_water_mark()
