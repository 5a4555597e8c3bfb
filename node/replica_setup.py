"""The consensus replica of a validator, as it starts: from the chain store's latest block and
the consensus log's votes (also after a join from a snapshot replaced the store)."""

from __future__ import annotations

from consensus.replica import Replica
from ledger.genesis import Genesis
from ledger.keys import PrivateKey
from ledger.types import TimestampMs, ValidatorIndex
from node.application import LedgerApplication
from node.config import make_replica_config
from node.config_sections import NodeConfig
from storage.chain import ChainStore
from storage.consensus_log import ConsensusLogStore


def make_replica(
    config: NodeConfig,
    genesis: Genesis,
    key: PrivateKey,
    application: LedgerApplication,
    chain: ChainStore,
    consensus_log: ConsensusLogStore,
) -> Replica:
    latest = chain.latest_height()
    header = chain.get_header(latest)
    index = ValidatorIndex(genesis.validator_index(config.node.name))
    return Replica(
        config=make_replica_config(config, genesis, index),
        key=key,
        application=application,
        committed_height=latest,
        committed_hash=chain.get_latest_hash(),
        committed_timestamp_ms=header.timestamp_ms if header else TimestampMs(genesis.genesis_time_ms),
        committed_certificate=chain.get_certificate(latest),
        log_entries=consensus_log.load(),
    )
