"""What a node's configuration holds: one frozen dataclass per TOML section, with its defaults
and what each field means. node/config.py reads a file into these, applies the environment's
overrides and checks the values.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

VALIDATOR, OBSERVER = "validator", "observer"
NO_FILE = Path()  # a path field left out


@dataclass(frozen=True)
class NodeSection:
    name: str
    data_dir: Path
    genesis_file: Path
    key_file: Path = NO_FILE  # the validator key; an observer has none
    role: str = VALIDATOR  # or "observer": follows and verifies the chain, never votes (node/observer/)
    byzantine: str = ""  # testers only: a behaviour of consensus.simulation.behaviours; empty: honest


@dataclass(frozen=True)
class ApiSection:
    host: str = "127.0.0.1"
    port: int = 8000
    request_bytes_max: int = 1024 * 1024
    batch_transactions_max: int = 5000
    bad_signatures_burst: int = 200  # bad client signatures one source address may send at once,
    bad_signatures_per_s: int = 20  # and then a second (node/client_signatures.py)
    requests_burst: int = 1000  # requests one client address may send at once,
    requests_per_s: int = 500  # and then a second; past that 429 TOO_MANY_REQUESTS (node/request_limits.py)
    connections_max: int = 2000  # connections served at once, in all (node/edge.py)
    connections_per_address_max: int = 256  # and from one client address
    tls_handshake_timeout_ms: int = 10_000  # a TLS handshake not done by then is cut
    header_timeout_ms: int = 15_000  # a connection's first request must have come by then


@dataclass(frozen=True)
class P2PSection:
    host: str = "127.0.0.1"
    port: int = 9000
    # validator name -> wss:// URL of its /p2p (an observer's: of its /p2p/observer)
    peers: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class ConsensusSection:
    block_transactions_max: int = 500
    block_bytes_max: int = 1024 * 1024
    batch_delay_ms: int = 20
    window_max: int = 2  # deeper pipelines only add latency on a loaded node: docs/benchmarks.md
    checkpoint_interval: int = 50
    view_timeout_ms: int = 2000
    view_timeout_max_ms: int = 60_000
    request_timeout_ms: int = 4000
    timestamp_skew_max_ms: int = 30_000


@dataclass(frozen=True)
class MempoolSection:
    transactions_max: int = 100_000
    nonce_window: int = 1000
    backlog_max_ms: int = 1500  # refuse new submissions while waiting ones would take longer to commit
    backlog_floor: int = 1000  # below this many waiting transactions, never refuse


@dataclass(frozen=True)
class SnapshotsSection:
    """State snapshots (storage/snapshots.py, node/snapshot_sync.py)."""

    interval: int = 1000  # blocks between the snapshots this hub takes and offers; 0: none
    keep: int = 2  # snapshots kept (each pins LevelDB's table files of its height)
    join: bool = True  # at start, join from a peer's certified snapshot when empty or far behind
    join_lag_blocks: int = 10_000  # "far behind": a snapshot this many blocks above our height
    join_wait_ms: int = 5000  # how long to wait at start for f + 1 peer links before asking offers


@dataclass(frozen=True)
class LogSection:
    level: str = "info"
    format: str = "auto"  # auto: JSON unless stderr is a terminal


@dataclass(frozen=True)
class TlsSection:
    """Every listener and link is TLS 1.3 (node/tls_setup.py); paths are relative to the config file."""

    ca_file: Path  # the network CA certificate: peers' and clients' certificates must come from it
    certificate_file: Path  # this hub's certificate (netgen: tls/hubs/<hub>.crt), for both listeners
    key_file: Path  # its private key
    crl_file: Path  # the CA's revocation list: a revoked peer or client is refused at the handshake
    api_plaintext: bool = (
        False  # true: the client API speaks plain HTTP (behind a TLS proxy); logged as a warning
    )
    watch_interval_ms: int = 30_000  # how often the files are checked for a change (node/tls_reload.py);
    # 0: only on SIGHUP


@dataclass(frozen=True)
class StorageSection:
    # Keep the bodies of the latest N blocks and prune older ones (headers and certificates are
    # kept; node/pruning.py). 0 keeps every block.
    keep_blocks: int = 0
    # Keep what the latest N blocks overwrote (storage/history.py), so the state after any of the
    # N blocks before the latest can be proven too (GET /v1/accounts/{address}/proof?height=H).
    # 0: the latest height only. A pruning hub keeps the undo records of all its kept blocks
    # (an export needs them) but proves no further back than N either: N bounds a question's cost.
    state_history_blocks: int = 1_000


@dataclass(frozen=True)
class ObserverSection:
    """How an observer follows the hubs of [p2p] peers (node/observer/follower.py)."""

    poll_interval_ms: int = 500  # how often each hub is asked for the blocks after ours
    request_timeout_ms: int = 10_000  # a hub that has not answered by then is asked again later


@dataclass(frozen=True)
class AdminSection:
    token: str = ""  # empty: operator endpoints are closed


@dataclass(frozen=True)
class NodeConfig:
    node: NodeSection
    tls: TlsSection
    api: ApiSection = ApiSection()
    p2p: P2PSection = P2PSection()
    consensus: ConsensusSection = ConsensusSection()
    mempool: MempoolSection = MempoolSection()
    snapshots: SnapshotsSection = SnapshotsSection()
    log: LogSection = LogSection()
    admin: AdminSection = AdminSection()
    storage: StorageSection = StorageSection()
    observer: ObserverSection = ObserverSection()

    @property
    def is_observer(self) -> bool:
        return self.node.role == OBSERVER
