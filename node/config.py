"""Node configuration: a TOML file under config/, overridden by environment variables.

The whole tree is built and validated once at start-up and handed to
constructors as frozen dataclasses. Any mistake stops the node with the file,
the field and what is wrong. An override is ``HUBLEDGER_<SECTION>_<FIELD>``,
for example ``HUBLEDGER_API_PORT=8101``.
"""

from __future__ import annotations

import dataclasses
import os
import tomllib
import types
from collections.abc import Mapping
from pathlib import Path
from typing import Any, get_type_hints

from consensus.config import ReplicaConfig
from ledger.certificate import compute_quorum
from ledger.genesis import Genesis
from ledger.limits import FETCHED_BLOCKS_MAX
from ledger.types import ValidatorIndex
from node.config_sections import NO_FILE, OBSERVER, VALIDATOR, NodeConfig
from node.errors import ConfigError
from p2p.settings import P2PSettings
from storage.snapshots import SNAPSHOTS_KEPT_MAX

ENV_PREFIX = "HUBLEDGER_"
PEER_MESSAGE_BYTES_MAX = P2PSettings().message_bytes_max


# A pruning hub keeps at least this many checkpoint intervals of block bodies: everything a
# replica may still vote on or be asked for in a view change lies within four (the start-up
# check's window, storage/integrity.py), and a peer that fell that far behind catches up from
# it by blocks.
KEEP_CHECKPOINT_INTERVALS_MIN = 4
STATE_HISTORY_BLOCKS_MAX = 100_000  # rebuilding an old state reads every undo record above it

def load_config(path: Path, environ: Mapping[str, str] | None = None) -> NodeConfig:
    """Read, override and validate a node config; raises ConfigError naming file and field."""
    environ = os.environ if environ is None else environ
    try:
        document = tomllib.loads(path.read_text())
    except OSError as error:
        raise ConfigError(f"{path}: cannot read the config file: {error.strerror}") from None
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"{path}: not valid TOML: {error}") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: not UTF-8 text, so not a TOML config file") from None
    _apply_overrides(document, environ, path)
    config = _build(NodeConfig, document, path, "")
    config = _resolve_paths(config, path.parent)
    validate_config(config, path)
    return config


def _apply_overrides(document: dict[str, Any], environ: Mapping[str, str], path: Path) -> None:
    sections = {f.name: f.type for f in dataclasses.fields(NodeConfig)}
    for name, value in sorted(environ.items()):
        if not name.startswith(ENV_PREFIX) or name == ENV_PREFIX + "CONFIG":
            continue
        section, _, key = name[len(ENV_PREFIX) :].lower().partition("_")
        if section not in sections or not key:
            raise ConfigError(f"{path}: environment variable {name} names no config section")
        document.setdefault(section, {})[key] = _parse_env_value(value)


def _parse_env_value(value: str) -> Any:
    try:
        return tomllib.loads(f"value = {value}")["value"]
    except tomllib.TOMLDecodeError:
        return value  # a bare word is taken as a string


def _build(cls: type, values: Any, path: Path, where: str) -> Any:
    if not isinstance(values, dict):
        raise ConfigError(f"{path}: [{where}] must be a table")
    hints = get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(values) - names)
    if unknown:
        raise ConfigError(f"{path}: [{where or 'top level'}] has unknown field(s): {', '.join(unknown)}")
    arguments = {}
    for item in dataclasses.fields(cls):
        label = f"{where}.{item.name}" if where else item.name
        if item.name not in values:
            if item.default is dataclasses.MISSING and item.default_factory is dataclasses.MISSING:
                raise ConfigError(f"{path}: {label} is required")
            continue
        arguments[item.name] = _convert(hints[item.name], values[item.name], path, label)
    return cls(**arguments)


def _convert(hint: Any, value: Any, path: Path, label: str) -> Any:
    if isinstance(hint, type) and dataclasses.is_dataclass(hint):
        return _build(hint, value, path, label)
    if hint is Path:
        return Path(_expect(str, value, path, label))
    if isinstance(hint, types.GenericAlias) and hint.__origin__ is dict:
        table = _expect(dict, value, path, label)
        return {str(key): _expect(str, item, path, f"{label}.{key}") for key, item in table.items()}
    return _expect(hint, value, path, label)


def _expect(kind: type, value: Any, path: Path, label: str) -> Any:
    if (kind is int and isinstance(value, bool)) or not isinstance(value, kind):
        raise ConfigError(f"{path}: {label} must be {_describe(kind)}, not {value!r}")
    return value


def _describe(kind: type) -> str:
    return {int: "an integer", str: "a string", dict: "a table", bool: "true or false"}.get(
        kind, kind.__name__
    )


def _resolve_paths(config: NodeConfig, base: Path) -> NodeConfig:
    section = config.node
    resolved = dataclasses.replace(
        section,
        data_dir=base / section.data_dir,
        key_file=NO_FILE if section.key_file == NO_FILE else base / section.key_file,
        genesis_file=base / section.genesis_file,
    )
    tls = config.tls
    tls = dataclasses.replace(
        tls,
        ca_file=base / tls.ca_file,
        certificate_file=base / tls.certificate_file,
        key_file=base / tls.key_file,
        crl_file=base / tls.crl_file,
    )
    return dataclasses.replace(config, node=resolved, tls=tls)


def validate_for_network(config: NodeConfig, validator_count: int, path: Path) -> None:
    """Check what depends on the network's size, once genesis is read."""
    # A NEW-VIEW carries a quorum of VIEW-CHANGEs, each with the prepared blocks above its
    # sender's committed one (at most two windows: a backup votes that far ahead), and
    # re-proposes up to two windows itself. It must fit in one peer message.
    blocks = (compute_quorum(validator_count) + 1) * 2 * config.consensus.window_max
    if blocks * config.consensus.block_bytes_max > PEER_MESSAGE_BYTES_MAX:
        raise ConfigError(
            f"{path}: consensus.block_bytes_max x window_max is too large for {validator_count} "
            f"validators: a NEW-VIEW may carry {blocks} blocks of up to {config.consensus.block_bytes_max} "
            f"bytes, over {PEER_MESSAGE_BYTES_MAX} bytes, the largest message between validators"
        )


def validate_config(config: NodeConfig, path: Path) -> None:
    """Check ranges and relations between settings once, at load time."""
    keep_blocks_min = KEEP_CHECKPOINT_INTERVALS_MIN * config.consensus.checkpoint_interval
    checks = [
        (config.node.role in (VALIDATOR, OBSERVER), "node.role must be validator or observer"),
        (
            config.node.role == OBSERVER or config.node.key_file != NO_FILE,
            "node.key_file is required: the validator key of this hub",
        ),
        (
            config.node.role == VALIDATOR or config.node.key_file == NO_FILE,
            "node.key_file must not be set for an observer: it holds no validator key and never votes",
        ),
        (
            config.node.role == VALIDATOR or bool(config.p2p.peers),
            "p2p.peers must name at least one hub for an observer to follow",
        ),
        (
            config.node.role == VALIDATOR or not config.node.byzantine,
            "node.byzantine is for validators only",
        ),
        (config.observer.poll_interval_ms >= 10, "observer.poll_interval_ms must be at least 10"),
        (config.observer.request_timeout_ms >= 100, "observer.request_timeout_ms must be at least 100"),
        (1 <= config.api.port <= 65535, "api.port must be between 1 and 65535"),
        (1 <= config.p2p.port <= 65535, "p2p.port must be between 1 and 65535"),
        (
            config.api.port != config.p2p.port or config.api.host != config.p2p.host,
            "api.port and p2p.port must differ",
        ),
        (
            all(url.startswith("wss://") for url in config.p2p.peers.values()),
            "p2p.peers URLs must start with wss:// (peer links are TLS only)",
        ),
        (
            config.tls.watch_interval_ms == 0 or config.tls.watch_interval_ms >= 1000,
            "tls.watch_interval_ms must be 0 (SIGHUP only) or at least 1000",
        ),
        (
            config.storage.keep_blocks == 0 or config.storage.keep_blocks >= keep_blocks_min,
            f"storage.keep_blocks must be 0 (keep every block) or at least {KEEP_CHECKPOINT_INTERVALS_MIN} "
            f"x consensus.checkpoint_interval ({keep_blocks_min})",
        ),
        (
            0 <= config.storage.state_history_blocks <= STATE_HISTORY_BLOCKS_MAX,
            "storage.state_history_blocks must be between 0 (the latest state only) and "
            f"{STATE_HISTORY_BLOCKS_MAX}",
        ),
        (config.api.request_bytes_max >= 1024, "api.request_bytes_max must be at least 1024"),
        (config.api.bad_signatures_burst >= 2, "api.bad_signatures_burst must be at least 2"),
        (config.api.bad_signatures_per_s >= 1, "api.bad_signatures_per_s must be at least 1"),
        (config.api.requests_burst >= 1, "api.requests_burst must be at least 1"),
        (config.api.requests_per_s >= 1, "api.requests_per_s must be at least 1"),
        (
            1 <= config.api.connections_per_address_max <= config.api.connections_max,
            "api.connections_per_address_max must be at least 1 and at most api.connections_max",
        ),
        (config.api.tls_handshake_timeout_ms >= 100, "api.tls_handshake_timeout_ms must be at least 100"),
        (config.api.header_timeout_ms >= 100, "api.header_timeout_ms must be at least 100"),
        (config.consensus.block_transactions_max >= 1, "consensus.block_transactions_max must be at least 1"),
        (config.consensus.batch_delay_ms >= 0, "consensus.batch_delay_ms must not be negative"),
        (
            config.consensus.view_timeout_ms > config.consensus.batch_delay_ms,
            "consensus.view_timeout_ms must be longer than consensus.batch_delay_ms",
        ),
        (
            config.consensus.view_timeout_max_ms >= config.consensus.view_timeout_ms,
            "consensus.view_timeout_max_ms must be at least consensus.view_timeout_ms",
        ),
        # A probe follows a peer's chain while answers hold more than two windows of blocks.
        (
            1 <= config.consensus.window_max < FETCHED_BLOCKS_MAX // 2,
            f"consensus.window_max must be between 1 and {FETCHED_BLOCKS_MAX // 2 - 1}",
        ),
        (config.consensus.checkpoint_interval >= 1, "consensus.checkpoint_interval must be at least 1"),
        (config.mempool.transactions_max >= 1, "mempool.transactions_max must be at least 1"),
        (config.mempool.nonce_window >= 1, "mempool.nonce_window must be at least 1"),
        (config.mempool.backlog_floor >= 1, "mempool.backlog_floor must be at least 1"),
        # A backlog that may outlast the request timeout gets a live primary voted out for being slow.
        (
            0 < config.mempool.backlog_max_ms < config.consensus.request_timeout_ms,
            "mempool.backlog_max_ms must be positive and shorter than consensus.request_timeout_ms",
        ),
        (config.snapshots.interval >= 0, "snapshots.interval must not be negative (0: take none)"),
        (1 <= config.snapshots.keep <= SNAPSHOTS_KEPT_MAX,
            f"snapshots.keep must be 1 to {SNAPSHOTS_KEPT_MAX}"),
        (config.snapshots.join_lag_blocks >= 1, "snapshots.join_lag_blocks must be at least 1"),
        (config.snapshots.join_wait_ms >= 100, "snapshots.join_wait_ms must be at least 100"),
        (
            config.log.level in ("debug", "info", "warning", "error"),
            "log.level must be one of debug, info, warning, error",
        ),
        (config.log.format in ("auto", "json", "console"), "log.format must be auto, json or console"),
    ]
    for ok, message in checks:
        if not ok:
            raise ConfigError(f"{path}: {message}")


def make_replica_config(config: NodeConfig, genesis: Genesis, index: ValidatorIndex) -> ReplicaConfig:
    """The replica's settings: [consensus] with this chain's validators, checked."""
    section = config.consensus
    replica_config = ReplicaConfig(
        chain_id=genesis.chain_id,
        validator_keys=genesis.validator_keys,
        self_index=index,
        block_transactions_max=section.block_transactions_max,
        block_bytes_max=section.block_bytes_max,
        batch_delay_ms=section.batch_delay_ms,
        window_max=section.window_max,
        checkpoint_interval=section.checkpoint_interval,
        view_timeout_ms=section.view_timeout_ms,
        view_timeout_max_ms=section.view_timeout_max_ms,
        request_timeout_ms=section.request_timeout_ms,
        timestamp_skew_max_ms=section.timestamp_skew_max_ms,
    )
    replica_config.validate()
    return replica_config
