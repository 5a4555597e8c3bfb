"""Equivocation: signing two different things where the protocol allows one.

Alone, an equivocator splits the honest replicas at random for each message
and shows one of them both versions, so that replica can record evidence. In
a ``Collusion`` (more faulty validators working together, as a test of the
checker), the faulty validators show one fixed side of the honest replicas
one block and the other side another, and vote for both, each to its side.
"""

from __future__ import annotations

from dataclasses import replace

from consensus.messages import Commit, Prepare, PrePrepare, SignedMessage
from consensus.simulation.behaviour import Behaviour, BehaviourContext, Emission, emit
from consensus.simulation.randomness import get_random_bytes
from ledger.block import Block
from ledger.types import Hash, TimestampMs, ValidatorIndex


class _Splitter(Behaviour):
    is_faulty = True
    counts_conflicts = True

    def send_both(
        self,
        first: SignedMessage,
        second: SignedMessage,
        recipients: list[ValidatorIndex],
        first_digest: Hash,
        second_digest: Hash,
    ) -> list[Emission]:
        collusion = self.context.collusion
        if collusion is not None:
            first_to = [to for to in recipients if to in collusion.get_audience(first_digest)]
            second_to = [to for to in recipients if to in collusion.get_audience(second_digest)]
            both = [to for to in first_to if to in collusion.members]
            self.conflicts_sent += len(both)
            return (
                emit(first, first_to)
                + emit(second, [to for to in second_to if to not in both])
                + emit(second, both)
            )
        rng = self.context.rng
        shuffled = rng.sample(recipients, len(recipients))
        half = len(shuffled) // 2
        witness = shuffled[:1]  # sees both: the evidence
        self.conflicts_sent += len(witness)
        return emit(first, shuffled[half:] + witness) + emit(second, shuffled[:half])


class Equivocate(_Splitter):
    """As primary, proposes two different blocks for one slot (the second a millisecond
    later), each to a different part of the network."""

    name = "equivocate"

    def __init__(self, context: BehaviourContext) -> None:
        super().__init__(context)
        self.forks: dict[Hash, Hash] = {}  # a block shown -> its conflicting twin

    def transform(
        self, message: SignedMessage, recipients: list[ValidatorIndex], now_ms: int
    ) -> list[Emission]:
        body = message.body
        if isinstance(body, Prepare | Commit) and self.context.collusion is not None:
            return _double_vote(self, message, body, recipients)
        if not isinstance(body, PrePrepare) or body.block.header.proposer != self.context.self_index:
            return emit(message, recipients)
        other = self._make_twin(body.block)
        second = self.context.sign(PrePrepare(body.view, body.height, other))
        return self.send_both(message, second, recipients, body.block.hash, other.hash)

    def _make_twin(self, block: Block) -> Block:
        header = block.header
        parent = self._get_twin(header.previous_hash)
        twin = Block(
            replace(header, timestamp_ms=TimestampMs(header.timestamp_ms + 1), previous_hash=parent),
            block.transactions,
        )
        self.forks[block.hash] = twin.hash
        self.forks[twin.hash] = block.hash
        if self.context.collusion is not None:
            self.context.collusion.pair(block.hash, twin.hash)
        return twin

    def _get_twin(self, block_hash: Hash) -> Hash:
        return self.forks.get(block_hash, block_hash)


class DoubleVote(_Splitter):
    """As backup, signs a second PREPARE or COMMIT for a different digest in the same slot;
    each version goes to a different part of the network."""

    name = "double-vote"

    def transform(
        self, message: SignedMessage, recipients: list[ValidatorIndex], now_ms: int
    ) -> list[Emission]:
        body = message.body
        if isinstance(body, Prepare | Commit):
            return _double_vote(self, message, body, recipients)
        return emit(message, recipients)


def _double_vote(
    splitter: _Splitter, message: SignedMessage, body: Prepare | Commit, recipients: list[ValidatorIndex]
) -> list[Emission]:
    collusion = splitter.context.collusion
    other_digest = collusion.twins.get(body.block_hash) if collusion is not None else None
    if other_digest is None:
        if collusion is not None:
            return emit(message, recipients)  # nothing to pair it with yet
        other_digest = Hash(get_random_bytes(splitter.context.rng, 32))
    second = splitter.context.sign(replace(body, block_hash=other_digest))
    return splitter.send_both(message, second, recipients, body.block_hash, other_digest)
