"""The catalogue of Byzantine behaviours, each a few lines on top of ``Behaviour``.

Every behaviour keeps the honest replica underneath and only changes what
leaves it, so the faults are exactly those a real validator could commit with
its own key. ``CATALOGUE`` maps each name a tester types to its class.
"""

from __future__ import annotations

from collections import deque
from dataclasses import replace

from consensus.messages import Commit, Prepare, PrePrepare, SignedMessage, ViewChange
from consensus.simulation.behaviour import Behaviour, BehaviourContext, Emission, emit
from consensus.simulation.equivocation import DoubleVote, Equivocate
from consensus.simulation.floods import (
    BelowFloorPrimary,
    CheckpointFlood,
    FutureFlood,
    PrePrepareFlood,
    RequestBatchFlood,
)
from consensus.simulation.network import flip_byte
from consensus.simulation.randomness import get_random_bytes
from ledger.block import Block, compute_transactions_root
from ledger.types import Hash, Height, ValidatorIndex, View

REPLAY_HISTORY_MAX = 256
ABSURD_VIEWS = (63, 64, 65, 1_000, 1_000_000, 2**40, 2**62)


class Silent(Behaviour):
    """Sends nothing at all, from the start: a validator that never joined."""

    name = "silent"
    is_faulty = True

    def transform(
        self, message: SignedMessage, recipients: list[ValidatorIndex], now_ms: int
    ) -> list[Emission]:
        return []


class Crash(Behaviour):
    """Honest until a seeded moment (its k-th message), then silent for good: fail-stop."""

    name = "crash"
    is_faulty = True

    def __init__(self, context: BehaviourContext) -> None:
        super().__init__(context)
        self.messages_left = context.rng.randint(0, 300)

    def transform(
        self, message: SignedMessage, recipients: list[ValidatorIndex], now_ms: int
    ) -> list[Emission]:
        if self.messages_left <= 0:
            return []
        self.messages_left -= 1
        return emit(message, recipients)


class Forge(Behaviour):
    """Sends messages claiming another validator as sender, or with a spoiled signature,
    in place of or besides its real ones. The door must refuse every forgery."""

    name = "forge"
    is_faulty = True

    def transform(
        self, message: SignedMessage, recipients: list[ValidatorIndex], now_ms: int
    ) -> list[Emission]:
        rng = self.context.rng
        emissions: list[Emission] = []
        for to in recipients:
            roll = rng.random()
            if roll >= 1 / 3:
                emissions += emit(message, [to])
            if roll < 2 / 3:
                emissions.append(Emission(to, self._forge(message)))
        return emissions

    def _forge(self, message: SignedMessage) -> bytes:
        rng = self.context.rng
        if rng.random() < 0.5:
            others = [i for i in range(self.context.validator_count) if i != message.sender]
            claimed = ValidatorIndex(rng.choice(others)) if others else message.sender
            return SignedMessage(message.chain_id, claimed, message.body, message.signature).encode()
        signature = flip_byte(message.signature, rng)
        return SignedMessage(message.chain_id, message.sender, message.body, signature).encode()


class Corrupt(Behaviour):
    """Flips a byte in about half of what it sends."""

    name = "corrupt"
    is_faulty = True

    def transform(
        self, message: SignedMessage, recipients: list[ValidatorIndex], now_ms: int
    ) -> list[Emission]:
        rng = self.context.rng
        emissions = []
        for emission in emit(message, recipients):
            if rng.random() < 0.5:
                emission = Emission(emission.to, flip_byte(emission.data, rng))
            emissions.append(emission)
        return emissions


class Replay(Behaviour):
    """Sends its messages, and old ones of its own again, to peers chosen at random."""

    name = "replay"
    is_faulty = True

    def __init__(self, context: BehaviourContext) -> None:
        super().__init__(context)
        self.history: deque[SignedMessage] = deque(maxlen=REPLAY_HISTORY_MAX)

    def transform(
        self, message: SignedMessage, recipients: list[ValidatorIndex], now_ms: int
    ) -> list[Emission]:
        rng = self.context.rng
        emissions = emit(message, recipients)
        if self.history and rng.random() < 0.5:
            old = rng.choice(list(self.history))
            emissions += emit(old, [rng.choice(self.context.peers)])
        self.history.append(message)
        return emissions


class StaleView(Behaviour):
    """Besides its real messages, sends VIEW-CHANGEs and votes for views long past."""

    name = "stale-view"
    is_faulty = True

    def __init__(self, context: BehaviourContext) -> None:
        super().__init__(context)
        self.view = View(0)

    def transform(
        self, message: SignedMessage, recipients: list[ValidatorIndex], now_ms: int
    ) -> list[Emission]:
        rng = self.context.rng
        self.view = max(self.view, _get_view(message))
        emissions = emit(message, recipients)
        stale = View(rng.randint(0, self.view))
        emissions += emit(self.context.sign(_empty_view_change(stale)), recipients)
        body = message.body
        if isinstance(body, Prepare | Commit) and body.view > 0:
            emissions += emit(self.context.sign(replace(body, view=View(body.view - 1))), recipients)
        return emissions


class FutureView(Behaviour):
    """Besides its real messages, sends VIEW-CHANGEs and PREPAREs for absurdly high views."""

    name = "future-view"
    is_faulty = True

    def transform(
        self, message: SignedMessage, recipients: list[ValidatorIndex], now_ms: int
    ) -> list[Emission]:
        rng = self.context.rng
        view = View(_get_view(message) + rng.choice(ABSURD_VIEWS))
        emissions = emit(message, recipients)
        emissions += emit(self.context.sign(_empty_view_change(view)), recipients)
        body = message.body
        if isinstance(body, Prepare | Commit):
            emissions += emit(self.context.sign(replace(body, view=view)), recipients)
        return emissions


class Withhold(Behaviour):
    """Sends each message to only some of the peers it should reach."""

    name = "withhold"
    is_faulty = True

    def transform(
        self, message: SignedMessage, recipients: list[ValidatorIndex], now_ms: int
    ) -> list[Emission]:
        if len(recipients) <= 1:
            return emit(message, recipients)
        rng = self.context.rng
        return emit(message, rng.sample(recipients, rng.randint(1, len(recipients) - 1)))


class SlowPrimary(Behaviour):
    """Holds every proposal (PRE-PREPARE, NEW-VIEW) just under the view timeout, to starve
    the network without ever quite being replaced."""

    name = "slow-primary"
    is_faulty = True

    def transform(
        self, message: SignedMessage, recipients: list[ValidatorIndex], now_ms: int
    ) -> list[Emission]:
        if message.kind in ("pre_prepare", "new_view"):
            return emit(message, recipients, self.context.view_timeout_ms * 9 // 10)
        return emit(message, recipients)


class InvalidBlock(Behaviour):
    """As primary, proposes blocks that must be refused: a transaction with a bad signature,
    or a state digest no honest execution gives (what an overspend that succeeded would claim)."""

    name = "invalid-block"
    is_faulty = True

    def transform(
        self, message: SignedMessage, recipients: list[ValidatorIndex], now_ms: int
    ) -> list[Emission]:
        body = message.body
        if not isinstance(body, PrePrepare) or body.block.header.proposer != self.context.self_index:
            return emit(message, recipients)
        bad = self._spoil(body.block)
        return emit(self.context.sign(PrePrepare(body.view, body.height, bad)), recipients)

    def _spoil(self, block: Block) -> Block:
        rng = self.context.rng
        if block.transactions and rng.random() < 0.5:
            transactions = list(block.transactions)
            position = rng.randint(0, len(transactions) - 1)
            spoiled = transactions[position]
            transactions[position] = spoiled.with_signature(flip_byte(spoiled.signature, rng))
            header = replace(block.header, transactions_root=compute_transactions_root(tuple(transactions)))
            return Block(header, tuple(transactions))
        return Block(replace(block.header, state_root=Hash(get_random_bytes(rng, 32))), block.transactions)


class Twin(Behaviour):
    """Honest code, but a second instance runs with the same key: the simulator starts the
    twin and keeps the two in different partitions, so each side sees one of two signers."""

    name = "twin"
    is_faulty = True
    counts_conflicts = True


def _empty_view_change(view: View) -> ViewChange:
    return ViewChange(view, Height(0), Hash(bytes(32)), (), ())


def _get_view(message: SignedMessage) -> View:
    body = message.body
    if isinstance(body, PrePrepare | Prepare | Commit | ViewChange):
        return body.view
    return View(0)


CATALOGUE: dict[str, type[Behaviour]] = {
    behaviour.name: behaviour
    for behaviour in (
        Behaviour,
        Silent,
        Crash,
        Equivocate,
        DoubleVote,
        Forge,
        Corrupt,
        Replay,
        StaleView,
        FutureView,
        Withhold,
        SlowPrimary,
        InvalidBlock,
        Twin,
        CheckpointFlood,
        FutureFlood,
        PrePrepareFlood,
        RequestBatchFlood,
        BelowFloorPrimary,
    )
}
FAULTY_NAMES = tuple(name for name, behaviour in CATALOGUE.items() if behaviour.is_faulty)


def get_behaviour(name: str) -> type[Behaviour]:
    """Raise KeyError with the catalogue when ``name`` is not a behaviour."""
    behaviour = CATALOGUE.get(name)
    if behaviour is None:
        raise KeyError(f"no behaviour named {name!r}; choose one of {', '.join(sorted(CATALOGUE))}")
    return behaviour
