"""Checking VIEW-CHANGE messages and choosing what a NEW-VIEW must re-propose.

Both the new primary and every backup run ``compute_selection`` over the same
quorum of VIEW-CHANGEs, so a backup recomputes the NEW-VIEW and accepts it only
if the primary re-proposed exactly that.

A VIEW-CHANGE starts from its sender's last committed block, proven by that
block's commit certificate (or from its stable checkpoint, proven by a quorum of
CHECKPOINTs, when it holds no certificate: a replica restarted without one), and
carries prepared certificates only above it: at most the blocks in flight, so it
stays small whatever the checkpoint interval and the block size. The selection
starts at the highest such starting point among the VIEW-CHANGEs. For each
height above it, it takes the prepared certificate from the highest view (as in
PBFT: a block committed in view v was prepared by a quorum in v, and any quorum
of VIEW-CHANGEs holds at least one of them, whose starting point is below that
height since it is below the highest, so it carries the certificate: the
highest-view certificate at that height is that block). Blocks are hash-linked, so the
selection stops at the first height with no certificate or whose block does not
extend the one chosen below it: a replica sends COMMIT only for a block whose
parent it committed or also prepared-and-committed-to in the same view, so every
committed block's ancestors are prepared by a quorum too and are never cut off.

Which quorum. The argument above holds for *any* quorum of valid VIEW-CHANGEs, so a
backup accepts a NEW-VIEW on any quorum and recomputes its selection; the primary
only chooses which (``choose_view_changes``). It chooses the lowest starting
points: the start is the one height the replicas must fetch rather than order,
and a start proven by a commit certificate that only its sender holds (the COMMITs
reached it alone) cannot be fetched if that sender is faulty and serves nothing;
a faulty validator could then send such a VIEW-CHANGE for every view and stop the
chain for good. A start reached by f + 1 VIEW-CHANGEs is held by an honest
replica, and with every replica's VIEW-CHANGE the lowest quorum's start always is
(it is the (f + 1)-th highest of all); below it the blocks up to the higher,
certified starting points left out are re-proposed from the prepared
certificates of the quorum (they were committed, so prepared by a quorum: the
same blocks, by the argument above) and committed again in the new view, with
the same hashes, so nothing final is replaced.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from consensus.messages import (
    Checkpoint,
    Commit,
    Prepare,
    PreparedCertificate,
    PrePrepare,
    SignedMessage,
    ViewChange,
)
from ledger.block import Block
from ledger.types import Hash, Height, ValidatorIndex, View


@dataclass(frozen=True)
class Selection:
    checkpoint_height: Height
    checkpoint_hash: Hash
    checkpoint_signers: tuple[ValidatorIndex, ...]
    blocks: tuple[Block, ...]  # re-proposals for checkpoint_height + 1, + 2, ...


def get_primary(view: View, validator_count: int) -> ValidatorIndex:
    return ValidatorIndex(view % validator_count)


def is_valid_checkpoint_proof(
    height: Height, block_hash: Hash, proof: Sequence[SignedMessage], quorum: int
) -> bool:
    """A quorum of CHECKPOINTs for the block, or a quorum of COMMITs for it in one view (its
    commit certificate): either proves the block final, with every block below it."""
    if height == 0:
        return True  # the chain's start needs no proof
    checkpoints: set[ValidatorIndex] = set()
    commits: dict[View, set[ValidatorIndex]] = {}
    for message in proof:
        body = message.body
        if isinstance(body, Checkpoint) and body.height == height and body.block_hash == block_hash:
            checkpoints.add(message.sender)
        elif isinstance(body, Commit) and body.height == height and body.block_hash == block_hash:
            commits.setdefault(body.view, set()).add(message.sender)
    return len(checkpoints) >= quorum or any(len(senders) >= quorum for senders in commits.values())


def is_valid_prepared(certificate: PreparedCertificate, validator_count: int, quorum: int) -> bool:
    """A PRE-PREPARE from its view's primary and quorum - 1 matching PREPAREs from others."""
    proposal = certificate.proposal
    primary = get_primary(proposal.view, validator_count)
    if certificate.pre_prepare.sender != primary:
        return False
    senders = set()
    for message in certificate.prepares:
        body = message.body
        matches = (
            isinstance(body, Prepare)
            and body.view == proposal.view
            and body.height == proposal.height
            and body.block_hash == proposal.block.hash
        )
        if matches and message.sender != primary:
            senders.add(message.sender)
    return len(senders) >= quorum - 1


def validate_view_change(message: SignedMessage, validator_count: int, quorum: int) -> str | None:
    """The reason a VIEW-CHANGE is invalid, or None when it is valid."""
    body = message.body
    if not isinstance(body, ViewChange):
        return "not_view_change"
    proof = body.checkpoint_proof
    if not is_valid_checkpoint_proof(body.checkpoint_height, body.checkpoint_hash, proof, quorum):
        return "bad_checkpoint_proof"
    heights = set()
    for certificate in body.prepared:
        proposal = certificate.proposal
        if proposal.view >= body.view or proposal.height <= body.checkpoint_height:
            return "bad_prepared_slot"
        if proposal.height in heights:
            return "duplicate_prepared_height"
        if not is_valid_prepared(certificate, validator_count, quorum):
            return "bad_prepared_certificate"
        heights.add(proposal.height)
    return None


def choose_view_changes(
    view_changes: Sequence[SignedMessage], quorum: int, faults_max: int
) -> tuple[tuple[SignedMessage, ...], bool]:
    """The quorum a new primary builds its NEW-VIEW on, out of the valid VIEW-CHANGEs it holds
    (at least a quorum), and whether at least f + 1 of them reach that quorum's highest
    starting point (the view's start). Any quorum is safe (``compute_selection``); this one
    starts lowest: its VIEW-CHANGEs of the lowest starting points, ties by sender. With f + 1
    of them at or above the start, one honest sender holds the blocks up to it and serves
    them; with every replica's VIEW-CHANGE in hand that always holds, since the quorum's
    start is then the (f + 1)-th highest of all. A start reached by fewer may be a faulty
    validator's certificate that nobody else can serve (the caller waits a little for more)."""

    def start_of(message: SignedMessage) -> Height:
        body = message.body
        return body.checkpoint_height if isinstance(body, ViewChange) else Height(0)

    lowest = sorted(view_changes, key=lambda message: (start_of(message), message.sender))[:quorum]
    start = max(start_of(message) for message in lowest)
    reaching = sum(1 for message in view_changes if start_of(message) >= start)
    chosen = tuple(sorted(lowest, key=lambda message: message.sender))
    return chosen, start == 0 or reaching >= faults_max + 1


def compute_selection(view_changes: Sequence[SignedMessage]) -> Selection:
    """What the NEW-VIEW built on these (valid) VIEW-CHANGEs must re-propose."""
    bodies = [message.body for message in view_changes if isinstance(message.body, ViewChange)]
    best = max(bodies, key=lambda body: body.checkpoint_height)
    signers = tuple(sorted({message.sender for message in best.checkpoint_proof}))
    if best.checkpoint_height == 0:
        signers = tuple(sorted(message.sender for message in view_changes))
    chosen: dict[Height, PrePrepare] = {}
    for body in bodies:
        for certificate in body.prepared:
            proposal = certificate.proposal
            current = chosen.get(proposal.height)
            if proposal.height > best.checkpoint_height and (current is None or proposal.view > current.view):
                chosen[proposal.height] = proposal
    blocks: list[Block] = []
    parent_hash: Hash | None = best.checkpoint_hash if best.checkpoint_height > 0 else None
    height = Height(best.checkpoint_height + 1)
    while height in chosen:
        block = chosen[height].block
        if parent_hash is not None and block.header.previous_hash != parent_hash:
            break
        blocks.append(block)
        parent_hash = block.hash
        height = Height(height + 1)
    return Selection(best.checkpoint_height, best.checkpoint_hash, signers, tuple(blocks))
