"""Behaviours that flood honest replicas' buffers, and a primary that proposes below its view's start.

Each sends real, validly signed messages with the faulty validator's own key,
through the same door as every other message, besides (or instead of) what the
honest replica underneath sends. The floods aim at every bounded buffer a
replica keeps for later (issue 14, problems 2 to 4 and the request queue); the
last one aims at the floor a NEW-VIEW proves (problem 1, on purpose).
"""

from __future__ import annotations

from dataclasses import replace

from consensus.messages import (
    Checkpoint,
    Commit,
    NewView,
    Prepare,
    PrePrepare,
    RequestBatch,
    SignedMessage,
    ViewChange,
)
from consensus.simulation.behaviour import Behaviour, BehaviourContext, Emission, emit
from consensus.simulation.network import flip_byte
from consensus.simulation.randomness import get_random_bytes
from consensus.view_change import compute_selection
from ledger.block import Block, BlockHeader, compute_transactions_root
from ledger.receipt import compute_receipts_root
from ledger.transaction import Transaction
from ledger.types import Hash, Height, TimestampMs, ValidatorIndex, View

FLOOD_EVERY = 40  # messages of its own between two floods
CHECKPOINTS_PER_FLOOD = 80  # more than the replica's candidate cap (64 in the issue)
HUGE_HEIGHT = 5_000_000_000
PREPARE_COPIES = 108  # as in the issue: one PREPARE, many times
FUTURE_VIEW_AHEAD = 40
PRE_PREPARES_PER_FLOOD = 8
JUNK_TRANSACTIONS = 120  # per junk block or request batch
JUNK_PADDING = 400  # characters of memo per junk transaction


class _Flood(Behaviour):
    """Honest messages pass; every ``FLOOD_EVERY`` of them (and at the first) a flood follows."""

    is_faulty = True

    def __init__(self, context: BehaviourContext) -> None:
        super().__init__(context)
        self.view = View(0)
        self.height = Height(0)
        self._junk: list[Transaction] = []

    def transform(
        self, message: SignedMessage, recipients: list[ValidatorIndex], now_ms: int
    ) -> list[Emission]:
        body = message.body
        self.view = View(max(self.view, getattr(body, "view", 0)))
        self.height = Height(max(self.height, getattr(body, "height", 0)))
        emissions = emit(message, recipients)
        if self.sent % FLOOD_EVERY == 1:
            emissions += self.flood(now_ms)
        return emissions

    def flood(self, now_ms: int) -> list[Emission]:
        raise NotImplementedError

    def get_junk(self) -> list[Transaction]:
        """Transactions signed by the validator's key as if it were a bank: refused on execution."""
        if not self._junk:
            rng = self.context.rng
            for nonce in range(JUNK_TRANSACTIONS):
                self._junk.append(
                    Transaction.create(
                        self.context.key,
                        chain_id=self.context.chain_id,
                        nonce=rng.randint(0, 2**40) + nonce,
                        contract="cbdc",
                        method="transfer",
                        args={"to": get_random_bytes(rng, 20).hex(), "amount": 1, "memo": "x" * JUNK_PADDING},
                    )
                )
        return self._junk


class CheckpointFlood(_Flood):
    """Many CHECKPOINTs at huge heights, each a different candidate (issue 14, problem 2)."""

    name = "checkpoint-flood"

    def flood(self, now_ms: int) -> list[Emission]:
        rng = self.context.rng
        emissions: list[Emission] = []
        for offset in range(CHECKPOINTS_PER_FLOOD):
            body = Checkpoint(
                Height(HUGE_HEIGHT + rng.randint(0, 10**6) + offset), Hash(get_random_bytes(rng, 32))
            )
            emissions += emit(self.context.sign(body), self.context.peers)
        return emissions


class FutureFlood(_Flood):
    """Copies of one PREPARE for a far view, to fill the buffer of early messages (problem 3)."""

    name = "future-flood"

    def flood(self, now_ms: int) -> list[Emission]:
        rng = self.context.rng
        body = Prepare(
            View(self.view + FUTURE_VIEW_AHEAD), Height(self.height + 1), Hash(get_random_bytes(rng, 32))
        )
        message = self.context.sign(body)
        return [emission for _ in range(PREPARE_COPIES) for emission in emit(message, self.context.peers)]


class PrePrepareFlood(_Flood):
    """Large PRE-PREPAREs for future views it will lead, to be buffered unchecked (problem 4)."""

    name = "pre-prepare-flood"

    def flood(self, now_ms: int) -> list[Emission]:
        rng = self.context.rng
        count = self.context.validator_count
        first = self.view + 1 + (self.context.self_index - self.view - 1) % count  # the next view it leads
        junk = tuple(self.get_junk())
        emissions: list[Emission] = []
        for number in range(PRE_PREPARES_PER_FLOOD):
            view = View(first + number * count)
            height = Height(self.height + 1)  # within every window: held, not dropped at once
            header = BlockHeader(
                chain_id=self.context.chain_id,
                height=height,
                previous_hash=Hash(get_random_bytes(rng, 32)),
                view=view,
                timestamp_ms=TimestampMs(now_ms),
                proposer=self.context.self_index,
                transactions_root=compute_transactions_root(junk),
                transaction_count=len(junk),
                receipts_root=compute_receipts_root(()),
                state_root=Hash(get_random_bytes(rng, 32)),
            )
            emissions += emit(
                self.context.sign(PrePrepare(view, height, Block(header, junk))), self.context.peers
            )
        return emissions


class RequestBatchFlood(_Flood):
    """RequestBatches of junk: transactions no bank signed, spoiled signatures, and duplicates."""

    name = "request-batch-flood"

    def flood(self, now_ms: int) -> list[Emission]:
        rng = self.context.rng
        junk = self.get_junk()
        spoiled = [tx.with_signature(flip_byte(tx.signature, rng)) for tx in junk[: len(junk) // 4]]
        duplicates = [junk[0]] * (len(junk) // 4)
        batch = RequestBatch(tuple(junk + spoiled + duplicates))
        return emit(self.context.sign(batch), self.context.peers)


class BelowFloorPrimary(Behaviour):
    """As the primary of a new view, right after its NEW-VIEW, proposes and commits a new block
    at a height the NEW-VIEW proved final (issue 14, problem 1, on purpose). The block is one
    it saw prepared before, restamped for its view: it executes, but it is not the final one."""

    name = "below-floor-primary"
    is_faulty = True
    counts_conflicts = False  # one block per (view, height): nothing it signs conflicts itself

    def __init__(self, context: BehaviourContext) -> None:
        super().__init__(context)
        self.blocks: dict[Height, Block] = {}  # blocks seen prepared or proposed, by height

    def transform(
        self, message: SignedMessage, recipients: list[ValidatorIndex], now_ms: int
    ) -> list[Emission]:
        body = message.body
        self._remember(body)
        emissions = emit(message, recipients)
        if isinstance(body, NewView):
            emissions += self._propose_below(body, recipients)
        return emissions

    def _remember(self, body: object) -> None:
        if isinstance(body, PrePrepare):
            self.blocks.setdefault(body.height, body.block)
        elif isinstance(body, ViewChange):
            for certificate in body.prepared:
                proposal = certificate.proposal
                self.blocks.setdefault(proposal.height, proposal.block)

    def _propose_below(self, body: NewView, recipients: list[ValidatorIndex]) -> list[Emission]:
        start = compute_selection(body.view_changes).checkpoint_height
        below = sorted(height for height in self.blocks if height <= start)
        if not below:
            return []
        old = self.blocks[below[0]]
        header = replace(
            old.header,
            view=body.view,
            proposer=self.context.self_index,
            timestamp_ms=TimestampMs(old.header.timestamp_ms + 1),
        )
        block = Block(header, old.transactions)
        proposal = self.context.sign(PrePrepare(body.view, header.height, block))
        commit = self.context.sign(Commit(body.view, header.height, block.hash))
        return emit(proposal, recipients) + emit(commit, recipients)
