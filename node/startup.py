"""What every node process checks and sets up before it serves, validator or observer alike."""

from __future__ import annotations

from pathlib import Path
from typing import NoReturn

import structlog

from ledger.genesis import Genesis
from node.config_sections import NodeConfig
from node.edge import EdgeLimits
from storage.errors import DatabaseCorrupt
from storage.integrity import DATABASE_CORRUPT_EXIT_STATUS, REPAIR, WINDOW_BLOCKS, open_and_check

log = structlog.get_logger("hubledger.node")


def check_database_or_exit(config: NodeConfig, genesis: Genesis) -> None:
    """Refuse to serve or vote on a damaged database: one log line saying what is wrong and how
    to repair it, then exit with DATABASE_CORRUPT_EXIT_STATUS (storage/integrity.py)."""
    try:
        report = open_and_check(
            Path(config.node.data_dir),
            chain_id=genesis.chain_id,
            genesis_hash=genesis.hash,
            validator_keys=genesis.validator_keys,
            window_blocks=max(WINDOW_BLOCKS, 4 * config.consensus.checkpoint_interval),
        )
    except DatabaseCorrupt as error:
        refuse_corrupt_database(error, config)
    log.info(
        "database_checked",
        height=report.latest_height,
        records=report.records_read,
        blocks_checked=report.blocks_checked,
        elapsed_ms=report.elapsed_ms,
    )


def refuse_corrupt_database(error: DatabaseCorrupt, config: NodeConfig) -> NoReturn:
    log.error(
        "database_corrupt",
        code=error.code,
        problem=error.message,
        data_dir=str(config.node.data_dir),
        repair=REPAIR,
        exit_status=DATABASE_CORRUPT_EXIT_STATUS,
    )
    raise SystemExit(DATABASE_CORRUPT_EXIT_STATUS)


def get_api_limits(config: NodeConfig) -> EdgeLimits:
    api = config.api
    return EdgeLimits(
        tls_handshake_timeout_s=api.tls_handshake_timeout_ms / 1000,
        header_timeout_s=api.header_timeout_ms / 1000,
        total_max=api.connections_max,
        per_address_max=api.connections_per_address_max,
    )
