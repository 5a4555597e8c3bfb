"""A real node with a Byzantine behaviour, for testers: ``[node] byzantine = "equivocate"``.

The replica runs unchanged; every message it sends passes through the same
behaviour wrapper the simulator uses (``consensus.simulation.behaviours``)
before it reaches the peer links. Delayed emissions are scheduled on the event
loop. The behaviour's randomness is seeded from the validator index, so a
scenario run twice misbehaves the same way. Never set this on a production hub.
"""

from __future__ import annotations

import asyncio
import random

import structlog

from consensus.actions import Broadcast, Send
from consensus.simulation.behaviour import Behaviour, BehaviourContext
from consensus.simulation.behaviours import get_behaviour
from ledger.genesis import Genesis
from ledger.keys import PrivateKey
from ledger.types import ValidatorIndex
from node.clock import now_ms
from node.config import NodeConfig
from node.errors import ConfigError
from p2p.network import PeerNetwork

log = structlog.get_logger("hubledger.byzantine")
SEED_BASE = 0xB12A


class ByzantineOutbox:
    """Carries the replica's Send and Broadcast actions out through a behaviour."""

    def __init__(self, behaviour: Behaviour, network: PeerNetwork, validator_count: int) -> None:
        self.behaviour = behaviour
        self._network = network
        self._self_index = behaviour.context.self_index
        self._validator_count = validator_count

    def run(self, action: Send | Broadcast) -> None:
        if isinstance(action, Send):
            recipients = [action.to]
        else:
            recipients = [ValidatorIndex(i) for i in range(self._validator_count) if i != self._self_index]
        for emission in self.behaviour.on_send(action.message, recipients, now_ms()):
            if emission.delay_ms > 0:
                loop = asyncio.get_running_loop()
                loop.call_later(emission.delay_ms / 1000, self._network.send, emission.to, emission.data)
            else:
                self._network.send(emission.to, emission.data)


def make_outbox(
    config: NodeConfig, genesis: Genesis, index: ValidatorIndex, key: PrivateKey, network: PeerNetwork
) -> ByzantineOutbox | None:
    """None for an honest node; raises ConfigError for a behaviour not in the catalogue."""
    name = config.node.byzantine
    if not name or name == "honest":
        return None
    try:
        kind = get_behaviour(name)
    except KeyError as error:
        raise ConfigError(f"node.byzantine: {error.args[0]}") from None
    context = BehaviourContext(
        chain_id=genesis.chain_id,
        validator_count=len(genesis.validators),
        self_index=index,
        key=key,
        rng=random.Random(SEED_BASE + index),
        view_timeout_ms=config.consensus.view_timeout_ms,
    )
    log.warning("byzantine_behaviour", behaviour=name, validator=config.node.name)
    return ByzantineOutbox(kind(context), network, len(genesis.validators))
