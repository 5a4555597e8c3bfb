"""The replica's settings, built once by the node and validated when loaded."""

from __future__ import annotations

from dataclasses import dataclass

from consensus.errors import ConfigError
from ledger.limits import BLOCK_BYTES_MAX, BLOCK_TRANSACTIONS_MAX, VALIDATORS_MAX
from ledger.types import ValidatorIndex


@dataclass(frozen=True)
class ReplicaConfig:
    chain_id: str
    validator_keys: tuple[bytes, ...]
    self_index: ValidatorIndex
    block_transactions_max: int = 2000
    block_bytes_max: int = 4 * 1024 * 1024
    batch_delay_ms: int = 20
    window_max: int = 8  # heights in flight beyond the last committed one
    checkpoint_interval: int = 50
    view_timeout_ms: int = 2000
    view_timeout_max_ms: int = 60_000
    request_timeout_ms: int = 4000
    timestamp_skew_max_ms: int = 30_000
    pending_transactions_max: int = 100_000
    # Test-only: False switches off the floor a NEW-VIEW proves, so that the negative control
    # can show the simulator finds the fork it prevents. The node never sets it.
    view_floor_enforced: bool = True

    @property
    def validator_count(self) -> int:
        return len(self.validator_keys)

    def validate(self) -> None:
        """Raise ConfigError when a setting, or a relation between settings, is wrong."""
        checks = (
            (1 <= self.validator_count <= VALIDATORS_MAX, f"between 1 and {VALIDATORS_MAX} validators"),
            (0 <= self.self_index < self.validator_count, "self_index names one of the validators"),
            (len(set(self.validator_keys)) == self.validator_count, "validator keys are distinct"),
            (1 <= self.block_transactions_max <= BLOCK_TRANSACTIONS_MAX,
             f"block_transactions_max is between 1 and {BLOCK_TRANSACTIONS_MAX}"),
            (1024 <= self.block_bytes_max <= BLOCK_BYTES_MAX,
             f"block_bytes_max is between 1024 and {BLOCK_BYTES_MAX}"),
            (self.batch_delay_ms >= 0, "batch_delay_ms is not negative"),
            (1 <= self.window_max <= 1024, "window_max is between 1 and 1024"),
            (self.checkpoint_interval >= 1, "checkpoint_interval is at least 1"),
            (self.view_timeout_ms > self.batch_delay_ms, "view_timeout_ms is longer than batch_delay_ms"),
            (self.view_timeout_max_ms >= self.view_timeout_ms,
             "view_timeout_max_ms is at least view_timeout_ms"),
            (self.request_timeout_ms > self.batch_delay_ms,
             "request_timeout_ms is longer than batch_delay_ms"),
            (self.timestamp_skew_max_ms >= 0, "timestamp_skew_max_ms is not negative"),
            (self.pending_transactions_max >= self.block_transactions_max,
             "pending_transactions_max is at least block_transactions_max"),
        )
        for holds, rule in checks:
            if not holds:
                raise ConfigError(f"invalid consensus configuration: {rule}")
