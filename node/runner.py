"""Running one node process: load and check everything, serve, stop cleanly on a signal."""

from __future__ import annotations

import asyncio
import gc
import signal
import ssl
from pathlib import Path

import structlog
import uvloop
from aiohttp import web
from prometheus_client import CollectorRegistry

from ledger.errors import LedgerError
from ledger.genesis import Genesis
from ledger.keys import PrivateKey
from node.api.app import build_api
from node.api.metrics import METRICS
from node.certificate_expiry import CertificateExpiry
from node.config import load_config, validate_for_network
from node.config_sections import NodeConfig
from node.edge import PEER_LIMITS, GuardedSite, make_runner
from node.errors import ConfigError
from node.logs import configure_logging
from node.service import Node
from node.snapshot_sync import SnapshotCollector, SnapshotService
from node.startup import check_database_or_exit, get_api_limits, refuse_corrupt_database
from node.tls_reload import TlsReloader
from node.tls_setup import NodeTls, get_tls_files, load_node_tls, validate_tls_files
from p2p.tls_refusals import count_refusals
from storage.errors import DatabaseCorrupt

log = structlog.get_logger("hubledger.node")

# A loaded node allocates and frees millions of objects a second, nearly all without cycles.
# At CPython's default first threshold (700) the collector ran about 14 times a second and
# promoted enough to scan the whole heap (every module, cached block and transaction) every
# 10 s, 100 ms a time: 4 % of a node's CPU at 1,800 tx/s, and a pause in the latency tail.
GC_THRESHOLDS = (10_000, 10, 10)


def load_node_inputs(config_path: Path) -> tuple[NodeConfig, Genesis, PrivateKey]:
    """Config, genesis and key, each checked, or one ConfigError that names the file."""
    config = load_config(config_path)
    try:
        genesis = Genesis.load(config.node.genesis_file)
        key = PrivateKey.load(config.node.key_file)
    except LedgerError as error:
        raise ConfigError(f"{config_path}: {error.message}") from None
    names = [validator.name for validator in genesis.validators]
    if config.node.name not in names:
        raise ConfigError(
            f"{config_path}: node.name {config.node.name!r} is not a validator in genesis "
            f"({', '.join(names)})"
        )
    validate_for_network(config, len(genesis.validators), config_path)
    validate_tls_files(config, config_path)
    return config, genesis, key


def run_node(config_path: Path) -> None:
    config = load_config(config_path)
    if config.is_observer:  # no key, no vote: node/observer/
        from node.observer.runner import run_observer

        configure_logging(level=config.log.level, format=config.log.format, hub=config.node.name)
        run_observer(config, config_path)
        return
    config, genesis, key = load_node_inputs(config_path)
    configure_logging(level=config.log.level, format=config.log.format, hub=config.node.name)
    check_database_or_exit(config, genesis)
    gc.set_threshold(*GC_THRESHOLDS)
    uvloop.run(serve(config, genesis, key))


async def serve(config: NodeConfig, genesis: Genesis, key: PrivateKey) -> None:
    try:
        node = Node(config, genesis, key)
    except DatabaseCorrupt as error:  # damage that appeared after the check: refused the same way
        refuse_corrupt_database(error, config)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    background: list[asyncio.Task[None]] = []
    api_app = build_api(node)
    snapshots = SnapshotService(node, config.snapshots)  # answers peers from the start
    api_app[METRICS].registry.register(SnapshotCollector(snapshots, node))
    api_runner = make_runner(api_app, get_api_limits(config))
    peer_app = web.Application(client_max_size=0)
    node.network.add_routes(peer_app)
    node.observers.add_routes(peer_app)  # read-only links for observers (p2p/observer_links.py)
    peer_runner = make_runner(peer_app, PEER_LIMITS)
    await api_runner.setup()
    await peer_runner.setup()
    try:
        tls = load_node_tls(config, [validator.name for validator in genesis.validators], Path("[tls]"))
        count_refusals(tls.peer.server_context, "p2p", node.network.count_refusal)
        await GuardedSite(
            peer_runner,
            config.p2p.host,
            config.p2p.port,
            limits=PEER_LIMITS,
            on_refused=node.network.count_refusal,
            ssl_context=tls.peer.server_context,
        ).start()
        api_url = await _start_api_site(api_runner, api_app, config, tls.api_context)
        background = follow_tls_files(config, genesis, node, tls, api_app[METRICS].registry)
        await node.start()
        snapshots.start()
        gc.freeze()  # what start-up built lives as long as the process: never scan it again
        log.info("serving", api=api_url, p2p_port=config.p2p.port)
        await _wait_for_either(stop, node.failed)
    finally:
        for task in background:
            task.cancel()
        await api_runner.cleanup()
        await peer_runner.cleanup()
        await snapshots.stop()
        await node.stop()
    if node.failed.is_set():
        # A validator that cannot persist its votes must not go on looking healthy: exiting
        # lets its supervisor (compose, localnet) restart it from what is on disk.
        raise OSError(f"{node.failure}; stopped so that nothing unsaved is ever sent")


def follow_tls_files(
    config: NodeConfig, genesis: Genesis, node: Node, tls: NodeTls, registry: CollectorRegistry
) -> list[asyncio.Task[None]]:
    """Reload [tls] on SIGHUP and when its files change; export and warn about certificate expiry."""
    expiry = CertificateExpiry(get_tls_files(config), api_served=tls.api_context is not None)
    reloader = TlsReloader(
        config,
        [validator.name for validator in genesis.validators],
        node.network,
        tls,
        observers=node.observers,
        on_loaded=lambda _: expiry.update(),
    )
    registry.register(expiry)
    registry.register(reloader)
    tasks = [asyncio.create_task(expiry.warn_daily(), name="certificate-expiry")]
    if config.tls.watch_interval_ms > 0:
        watch = reloader.watch(config.tls.watch_interval_ms / 1000)
        tasks.append(asyncio.create_task(watch, name="tls-watch"))

    async def reload_on_hangup() -> None:
        await reloader.reload(cause="SIGHUP")

    def on_hangup() -> None:
        tasks.append(asyncio.create_task(reload_on_hangup()))

    asyncio.get_running_loop().add_signal_handler(signal.SIGHUP, on_hangup)
    return tasks


async def _start_api_site(
    runner: web.AppRunner, app: web.Application, config: NodeConfig, context: ssl.SSLContext | None
) -> str:
    """TLS unless [tls] api_plaintext says otherwise, which is logged loudly: returns the API's URL."""
    host, port = config.api.host, config.api.port
    if context is None:
        log.warning(
            "api_plaintext",
            problem="the client API speaks plain HTTP: anyone on the path can read and change requests, "
            "and the admin endpoints are guarded by the token alone",
            setting="[tls] api_plaintext = true",
        )
    refused = app[METRICS].api_connections_refused
    site = GuardedSite(
        runner,
        host,
        port,
        limits=get_api_limits(config),
        on_refused=lambda reason: refused.labels(reason).inc(),
        ssl_context=context,
    )
    if context is None:
        await site.start()
        return f"http://{host}:{port}"
    tls_refused = app[METRICS].api_tls_refused
    count_refusals(context, "api", lambda reason: tls_refused.labels(reason).inc())
    await site.start()
    return f"https://{host}:{port}"


async def _wait_for_either(first: asyncio.Event, second: asyncio.Event) -> None:
    waits = {asyncio.ensure_future(first.wait()), asyncio.ensure_future(second.wait())}
    _, pending = await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
    for wait in pending:
        wait.cancel()
