"""A real node with a Byzantine behaviour, for testers: ``[node] byzantine = "equivocate"``.

The replica runs unchanged; every message it sends passes through the same
behaviour wrapper the simulator uses (``consensus.simulation.behaviours``)
before it reaches the peer links. Delayed emissions are scheduled on the event
loop. The behaviour's randomness is seeded from the validator index, so a
scenario run twice misbehaves the same way. Never set this on a production hub.

One behaviour is the node's own, not the replica's: ``serve_forged_blocks``
votes honestly but answers every block fetch (a lagging validator's state
transfer, an observer following the chain) with the real blocks and their
certificates, except the last block of each answer, whose header is altered
(its timestamp) so that its certificate no longer proves it: what a hub that
rewrites history for those who read it would serve.
"""

from __future__ import annotations

import asyncio
import dataclasses
import random

import structlog

from consensus.actions import Broadcast, Send
from consensus.simulation.behaviour import Behaviour, BehaviourContext
from consensus.simulation.behaviours import get_behaviour
from ledger import cbor
from ledger.block import Block
from ledger.genesis import Genesis
from ledger.keys import PrivateKey
from ledger.types import TimestampMs, ValidatorIndex
from node.clock import now_ms
from node.config_sections import NodeConfig
from node.errors import ConfigError
from node.state_transfer import StateTransferServer
from p2p.network import PeerNetwork
from storage.chain import ChainStore

log = structlog.get_logger("hubledger.byzantine")
SEED_BASE = 0xB12A
SERVE_FORGED_BLOCKS = "serve_forged_blocks"
FORGED_ANSWER_BYTES_MAX = 64 * 1024 * 1024  # our own answer, read back to forge it


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
    if not name or name in ("honest", SERVE_FORGED_BLOCKS):
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


class ForgingStateTransferServer(StateTransferServer):
    """Serves fetched blocks with the last one of each answer forged (see the module docstring)."""

    async def handle(self, peer: int, data: bytes) -> bytes:
        answer = cbor.decode(await super().handle(peer, data), bytes_max=FORGED_ANSWER_BYTES_MAX)
        items = answer["blocks"]
        if items:
            block = Block.decode(items[-1][0])
            forged_time = TimestampMs(block.header.timestamp_ms + 1)
            header = dataclasses.replace(block.header, timestamp_ms=forged_time)
            items[-1][0] = Block(header, block.transactions).encode()
            log.warning("forged_block_served", peer=peer, height=block.height)
        return cbor.encode({"blocks": items})


def make_state_transfer_server(config: NodeConfig, chain: ChainStore) -> StateTransferServer:
    if config.node.byzantine == SERVE_FORGED_BLOCKS:
        log.warning("byzantine_behaviour", behaviour=SERVE_FORGED_BLOCKS, validator=config.node.name)
        return ForgingStateTransferServer(chain)
    return StateTransferServer(chain)
