"""The replica's invariants, each written once and checked by one function.

``check_invariants`` is called by the tests and the simulator after every step
(every message, request, timer and fetch answer). Each rule says what must
hold of the replica's state between steps; a broken one raises
``InvariantViolation`` naming it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from consensus.errors import InvariantViolation

if TYPE_CHECKING:
    from consensus.replica.core import ReplicaCore


def check_invariants(replica: ReplicaCore) -> None:
    """Raise InvariantViolation if the replica's state breaks a written rule."""
    for name, holds in _rules(replica):
        if not holds:
            raise InvariantViolation(f"replica {replica._index}: {name}")


def _rules(replica: ReplicaCore) -> list[tuple[str, bool]]:
    return [
        (
            "the next height to order is above the committed height",
            replica._next_height > replica._committed_height,
        ),
        (
            "no slot is kept at or below the committed height",
            all(height > replica._committed_height for height in replica._slots),
        ),
    ]
