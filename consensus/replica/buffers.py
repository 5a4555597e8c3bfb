"""Bounded, per-sender stores of what peers sent ahead of this replica.

A faulty validator may send anything it can sign, as often as it likes. So every
store of messages a replica keeps for later gives each sender its own share,
keeps one message per slot, and never lets one sender's messages push out
another's: a flood costs the flooder its own share and nothing else.
"""

from __future__ import annotations

from consensus.messages import Checkpoint, SignedMessage
from ledger.types import Hash, Height, ValidatorIndex, View

FutureKey = tuple[str, View, Height]  # (kind, view, height): one message each per sender


class FutureBuffer:
    """PRE-PREPAREs, PREPAREs and COMMITs for a view this replica has not entered yet,
    replayed when it enters that view. Per sender: one message per (kind, view, height),
    at most ``messages_per_sender_max`` of them and ``bytes_per_sender_max`` encoded bytes
    (a Byzantine validator is the primary of some future view, so checking that a
    PRE-PREPARE comes from its view's primary does not bound its blocks; this does).
    A full share keeps the nearest views: the farthest message goes first."""

    def __init__(self, *, messages_per_sender_max: int, bytes_per_sender_max: int) -> None:
        self.messages_per_sender_max = messages_per_sender_max
        self.bytes_per_sender_max = bytes_per_sender_max
        self._shares: dict[ValidatorIndex, dict[FutureKey, tuple[int, SignedMessage]]] = {}
        self._bytes: dict[ValidatorIndex, int] = {}
        self._arrivals = 0  # replayed in arrival order, as if they had just come

    def __len__(self) -> int:
        return sum(len(share) for share in self._shares.values())

    def add(self, message: SignedMessage, view: View, height: Height) -> str | None:
        """Hold the message; the reason it is not held, or None."""
        sender = message.sender
        key: FutureKey = (message.kind, view, height)
        size = len(message.encode())
        share = self._shares.get(sender, {})
        if key in share:
            return "future_duplicate"
        if size > self.bytes_per_sender_max:
            return "future_share_full"
        while share and self._is_full(sender, size):
            farthest = max(share, key=lambda held: (held[1], held[2]))
            if (farthest[1], farthest[2]) <= (view, height):
                return "future_share_full"  # it keeps the nearest views
            self._remove(sender, farthest)
            share = self._shares.get(sender, {})
        self._arrivals += 1
        self._shares.setdefault(sender, {})[key] = (self._arrivals, message)
        self._bytes[sender] = self.get_bytes(sender) + size
        return None

    def _is_full(self, sender: ValidatorIndex, size: int) -> bool:
        count, held_bytes = self.get_count(sender), self.get_bytes(sender)
        return count >= self.messages_per_sender_max or held_bytes + size > self.bytes_per_sender_max

    def take_view(self, view: View) -> list[SignedMessage]:
        """Remove and return the messages for ``view``, in arrival order."""
        taken: list[tuple[int, SignedMessage]] = []
        for sender, share in list(self._shares.items()):
            for key in [key for key in share if key[1] == view]:
                taken.append(share[key])
                self._remove(sender, key)
        return [message for _, message in sorted(taken, key=lambda item: item[0])]

    def forget_below(self, view: View) -> None:
        for sender, share in list(self._shares.items()):
            for key in [key for key in share if key[1] < view]:
                self._remove(sender, key)

    def get_senders_by_view(self) -> dict[View, set[ValidatorIndex]]:
        senders: dict[View, set[ValidatorIndex]] = {}
        for sender, share in self._shares.items():
            for _, view, _ in share:
                senders.setdefault(view, set()).add(sender)
        return senders

    def get_count(self, sender: ValidatorIndex) -> int:
        return len(self._shares.get(sender, {}))

    def get_bytes(self, sender: ValidatorIndex) -> int:
        return self._bytes.get(sender, 0)

    def get_senders(self) -> list[ValidatorIndex]:
        return sorted(self._shares)

    def compute_bytes(self, sender: ValidatorIndex) -> int:
        """The encoded bytes held for ``sender``, counted afresh (for the invariants)."""
        return sum(len(message.encode()) for _, message in self._shares.get(sender, {}).values())

    def _remove(self, sender: ValidatorIndex, key: FutureKey) -> None:
        share = self._shares[sender]
        _, message = share.pop(key)
        self._bytes[sender] = self.get_bytes(sender) - len(message.encode())
        if not share:
            del self._shares[sender]
            del self._bytes[sender]


class CheckpointVotes:
    """CHECKPOINT votes above the stable checkpoint, being counted towards a quorum. Per
    sender: one vote per height, its ``per_sender_max`` highest. A validator that signs
    checkpoints at absurd heights fills its own share and no one else's, so honest
    checkpoints still become stable; the replica's own votes have their own share."""

    def __init__(self, *, per_sender_max: int) -> None:
        self.per_sender_max = per_sender_max
        self._shares: dict[ValidatorIndex, dict[Height, SignedMessage]] = {}

    def add(self, message: SignedMessage, height: Height) -> str | None:
        """Count the vote; the reason it is not counted, or None."""
        share = self._shares.setdefault(message.sender, {})
        if height in share:
            return "duplicate"  # the first one counts: an honest replica signs one per height
        if len(share) >= self.per_sender_max:
            lowest = min(share)
            if height < lowest:
                return "checkpoint_share_full"
            del share[lowest]  # its higher checkpoint supersedes it
        share[height] = message
        return None

    def get_votes(self, height: Height, block_hash: Hash) -> list[SignedMessage]:
        """The matching votes for (height, hash), by sender."""
        votes = []
        for _, share in sorted(self._shares.items()):
            message = share.get(height)
            body = message.body if message is not None else None
            if message is not None and isinstance(body, Checkpoint) and body.block_hash == block_hash:
                votes.append(message)
        return votes

    def forget_up_to(self, height: Height) -> None:
        for sender, share in list(self._shares.items()):
            for old in [old for old in share if old <= height]:
                del share[old]
            if not share:
                del self._shares[sender]

    def get_count(self, sender: ValidatorIndex) -> int:
        return len(self._shares.get(sender, {}))

    def get_senders(self) -> list[ValidatorIndex]:
        return sorted(self._shares)

    def get_heights(self) -> list[Height]:
        return sorted({height for share in self._shares.values() for height in share})
