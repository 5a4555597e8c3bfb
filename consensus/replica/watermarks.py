"""Water marks (Castro and Liskov, section 4.3): the heights a replica may order between.

The low-water mark is the highest height this replica knows to be final by proof:
its stable checkpoint (a quorum of CHECKPOINTs), its committed height, and, in the
view it orders in, the height that view's NEW-VIEW proved final (the highest
starting point of its quorum of VIEW-CHANGEs, ``Selection.checkpoint_height``:
the view's *start*). In a view, nothing is proposed, prepared or committed at or
below the low-water mark: the NEW-VIEW re-proposes exactly the blocks above the
start, and a block at or below it is final already, so a second one there would
be a fork. The start is persisted with the view record, so a restarted primary
proposes above it too, and a replica whose chain does not reach its low-water
mark fetches the certified blocks up to it before it proposes anything.

The high-water marks bound what is held: votes and proposals up to twice the
window above the committed height (``_admit_ordering``), checkpoints a few
checkpoint intervals above it (``CheckpointVotes``).
"""

from __future__ import annotations

from consensus.replica.core import CHECKPOINT_INTERVALS_AHEAD_MAX, ReplicaCore
from ledger.types import Height, ValidatorIndex, View


class WaterMarkMixin(ReplicaCore):
    def _get_low_water_mark(self) -> Height:
        """Nothing at or below this height is ordered in the current view but the NEW-VIEW's
        re-proposals (which are all above the view's start)."""
        return self._get_floor(self._view)

    def _get_floor(self, view: View) -> Height:
        """The low-water mark for messages of ``view``. The start of the current view is no
        floor for a later one: that view's NEW-VIEW may start lower and re-propose the blocks
        between (the same blocks: they were prepared by a quorum)."""
        floor = max(self._stable.height, self._committed_height)
        if view == self._view and not self._changing and self._config.view_floor_enforced:
            floor = max(floor, self._view_start)
        return Height(floor)

    def _is_below_floor(self, height: Height) -> bool:
        return height <= self._get_low_water_mark()

    def _get_checkpoint_high_water_mark(self) -> Height:
        """Checkpoints above this are not held: no honest replica is that far ahead of a
        replica that still takes part (one that lags catches up by fetching, ``_note_height``)."""
        interval = self._config.checkpoint_interval
        ahead = max(CHECKPOINT_INTERVALS_AHEAD_MAX * interval, 2 * self._config.window_max + interval)
        return Height(max(self._stable.height, self._committed_height) + ahead)

    def _is_caught_up(self) -> bool:
        """Whether the chain reaches the low-water mark: only then may this replica propose."""
        return self._committed_height >= self._get_low_water_mark()

    def _raise_next_height(self) -> None:
        """The next height to propose is always above the low-water mark."""
        self._next_height = Height(max(self._next_height, self._get_low_water_mark() + 1))

    def _get_catch_up_target(self) -> tuple[Height, list[ValidatorIndex]] | None:
        """The low-water mark when the chain is below it, and the peers known to hold it."""
        floor = self._get_low_water_mark()
        if floor <= self._committed_height:
            return None
        if floor == self._stable.height:
            return floor, [message.sender for message in self._stable.proof]
        return floor, []  # the view's start: any peer may hold it, ask them all

    def _catch_up_to_floor(self) -> None:
        """A replica below its low-water mark fetches up to it (after a restart, a NEW-VIEW)."""
        target = self._get_catch_up_target()
        if target is not None:
            self._start_fetch(*target)
