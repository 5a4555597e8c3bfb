"""The replica's invariants, each written once and checked by one function.

``check_invariants`` is called by the tests and the simulator after every step
(every message, request, timer and fetch answer). Each rule says what must
hold of the replica's state between steps; a broken one raises
``InvariantViolation`` naming it. The rules are grouped as the state is:
heights and water marks, own votes, the current view's slots, checkpoints,
and the bound of every store a peer can fill.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from consensus.errors import InvariantViolation
from consensus.messages import Checkpoint, Commit, Prepare, PrePrepare, ViewChange
from consensus.replica.core import (
    CHECKPOINT_VOTES_PER_SENDER_MAX,
    EVIDENCE_KINDS,
    VIEW_CHANGES_PER_SENDER_MAX,
)
from consensus.view_change import get_primary, is_valid_checkpoint_proof

if TYPE_CHECKING:
    from consensus.replica.core import ReplicaCore

Rule = tuple[str, bool]


def check_invariants(replica: ReplicaCore) -> None:
    """Raise InvariantViolation if the replica's state breaks a written rule."""
    for rules in (_heights, _own_votes, _slots, _checkpoints, _bounds):
        for name, holds in rules(replica):
            if not holds:
                raise InvariantViolation(f"replica {replica._index}: {name}")


def _heights(replica: ReplicaCore) -> list[Rule]:
    committed = replica._committed_height
    low = replica._get_low_water_mark()
    return [
        ("the next height to order is above the committed height", replica._next_height > committed),
        (
            "the next height to order is above the low-water mark (stable checkpoint, view start)",
            replica._changing or replica._next_height > low,
        ),
        ("the low-water mark is at least the committed height", low >= committed),
        (
            "a view's start is known only once its NEW-VIEW is",
            not replica._changing or replica._view_start == 0,
        ),
        ("a view whose start is unknown is not ordered in", not replica._floor_unknown or replica._changing),
        (
            "committed blocks waiting for delivery are above the committed height",
            min(replica._ready, default=committed + 1) > committed,
        ),
        (
            "prepared certificates are kept only above the committed height",
            min(replica._prepared, default=committed + 1) > committed,
        ),
    ]


def _own_votes(replica: ReplicaCore) -> list[Rule]:
    """One own signed message per (kind, view, height), as the journal holds it; a slot of the
    current view holds the very vote signed for it, never a second digest."""
    matches = True
    for (kind, view, height), message in replica._own.items():
        body = message.body
        if message.sender != replica._index or body.kind != kind:
            matches = False
        elif isinstance(body, PrePrepare | Prepare | Commit):
            matches = matches and (body.view, body.height) == (view, height)
        elif isinstance(body, ViewChange):
            matches = matches and body.view == view and height == 0
    same_digest = True
    for slot in replica._slots.values():
        for kind, votes in (("prepare", slot.prepares), ("commit", slot.commits)):
            own = replica._own.get((kind, slot.view, slot.height))
            held = votes.get(replica._index)
            if held is not None and (own is None or held.encode() != own.encode()):
                same_digest = False
    return [
        ("every own message is filed under its own (kind, view, height)", matches),
        ("a slot holds the one vote this replica signed for it", same_digest),
    ]


def _slots(replica: ReplicaCore) -> list[Rule]:
    view = replica._view
    floor = replica._view_start if replica._config.view_floor_enforced else 0
    slots = replica._slots.values()
    return [
        (
            "no slot is kept at or below the committed height",
            all(h > replica._committed_height for h in replica._slots),
        ),
        ("no slot is kept at or below the view's start", all(slot.height > floor for slot in slots)),
        ("no slot is kept while changing view", not replica._changing or not replica._slots),
        (
            "every slot belongs to the current view and its primary",
            all(slot.view == view and slot.primary == get_primary(view, replica._n) for slot in slots),
        ),
        (
            "a slot's proposal is for its own view and height",
            all(
                slot.pre_prepare is None
                or (
                    isinstance(slot.pre_prepare.body, PrePrepare)
                    and (slot.pre_prepare.body.view, slot.pre_prepare.body.height) == (slot.view, slot.height)
                )
                for slot in slots
            ),
        ),
    ]


def _checkpoints(replica: ReplicaCore) -> list[Rule]:
    stable = replica._stable
    votes = replica._checkpoint_votes
    proof_holds = is_valid_checkpoint_proof(stable.height, stable.block_hash, stable.proof, replica._quorum)
    return [
        ("the stable checkpoint is proven by a quorum of CHECKPOINTs", proof_holds),
        (
            "the stable checkpoint is a checkpoint height",
            stable.height % replica._config.checkpoint_interval == 0,
        ),
        (
            "checkpoint votes are counted only above the stable checkpoint",
            all(height > stable.height for height in votes.get_heights()),
        ),
        (
            "the own checkpoint vote is a CHECKPOINT",
            replica._own_checkpoint is None or isinstance(replica._own_checkpoint.body, Checkpoint),
        ),
    ]


def _bounds(replica: ReplicaCore) -> list[Rule]:
    future = replica._future
    window = replica._config.window_max
    view_change_senders: dict[int, int] = {}
    for senders in replica._view_changes.values():
        for sender in senders:
            view_change_senders[sender] = view_change_senders.get(sender, 0) + 1
    return [
        (
            "each sender's early messages are within its count",
            all(
                future.get_count(sender) <= future.messages_per_sender_max for sender in future.get_senders()
            ),
        ),
        (
            "each sender's early messages are within its bytes, counted right",
            all(
                future.get_bytes(sender) == future.compute_bytes(sender) <= future.bytes_per_sender_max
                for sender in future.get_senders()
            ),
        ),
        (
            "each sender's checkpoint votes are within its share",
            all(
                replica._checkpoint_votes.get_count(sender) <= CHECKPOINT_VOTES_PER_SENDER_MAX
                for sender in replica._checkpoint_votes.get_senders()
            ),
        ),
        (
            "each peer's VIEW-CHANGEs are its few highest",
            all(
                count <= VIEW_CHANGES_PER_SENDER_MAX
                for sender, count in view_change_senders.items()
                if sender != replica._index
            ),
        ),
        (
            "proposals refused or waiting for a parent are within the window",
            len(replica._refused) <= 2 * window
            and all(height <= replica._committed_height + 2 * window for height in replica._waiting_parent),
        ),
        (
            "pending requests are within their bound",
            len(replica._requests) <= replica._config.pending_transactions_max,
        ),
        (
            "each peer's forwarded requests are within its share",
            all(
                replica._requests.get_peer_count(peer) <= replica._requests.peer_transactions_max
                for peer in range(replica._n)
            ),
        ),
        (
            "evidence is kept once per validator and kind",
            len(replica._evidence_seen) <= replica._n * len(EVIDENCE_KINDS),
        ),
    ]
