"""Running an observer process: load and check its config, follow the hubs, serve reads, stop on a signal."""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path

import structlog
import uvloop

from ledger.errors import LedgerError
from ledger.genesis import Genesis
from node.config_sections import NodeConfig
from node.edge import GuardedSite, make_runner
from node.errors import ConfigError
from node.observer.api import build_observer_api
from node.observer.service import ObserverNode
from node.startup import check_database_or_exit, get_api_limits
from node.tls_setup import load_node_tls

log = structlog.get_logger("hubledger.observer")


def load_observer_inputs(config: NodeConfig, config_path: Path) -> Genesis:
    """The genesis an observer verifies against; ConfigError naming the file for any mistake."""
    try:
        genesis = Genesis.load(config.node.genesis_file)
    except LedgerError as error:
        raise ConfigError(f"{config_path}: {error.message}") from None
    names = [validator.name for validator in genesis.validators]
    unknown = sorted(set(config.p2p.peers) - set(names))
    if unknown:
        raise ConfigError(f"{config_path}: p2p.peers names {', '.join(unknown)}, not validators in genesis")
    if config.node.name in names:
        raise ConfigError(
            f"{config_path}: an observer may not take the name of validator {config.node.name!r}"
        )
    load_node_tls(config, names, config_path)  # every [tls] file checked before anything starts
    return genesis


def run_observer(config: NodeConfig, config_path: Path) -> None:
    genesis = load_observer_inputs(config, config_path)
    check_database_or_exit(config, genesis)
    uvloop.run(serve_observer(config, genesis))


async def serve_observer(config: NodeConfig, genesis: Genesis) -> None:
    observer = ObserverNode(config, genesis)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    limits = get_api_limits(config)
    runner = make_runner(build_observer_api(observer), limits)
    await runner.setup()
    try:
        tls = load_node_tls(config, [validator.name for validator in genesis.validators], Path("[tls]"))
        site = GuardedSite(
            runner,
            config.api.host,
            config.api.port,
            limits=limits,
            on_refused=lambda reason: None,
            ssl_context=tls.api_context,
        )
        await site.start()
        await observer.start()
        scheme = "http" if tls.api_context is None else "https"
        log.info("serving", api=f"{scheme}://{config.api.host}:{config.api.port}", role="observer")
        await stop.wait()
    finally:
        await runner.cleanup()
        await observer.stop()
