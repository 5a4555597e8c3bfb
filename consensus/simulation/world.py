"""What the simulator needs from the layers above consensus, injected by the node.

A full replica is consensus plus execution plus storage. The consensus core
may not import contracts or storage, so the node builds a ``World``: the
genesis, the validator keys, a fresh or reopened in-memory ``Host`` per
replica (its chain store, state and application), and signed transactions
for the workload. The simulator drives consensus; the world does the rest.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from consensus.application import Application
from ledger.block import Block
from ledger.certificate import CommitCertificate
from ledger.keys import PrivateKey
from ledger.transaction import Transaction
from ledger.types import Address, Hash, Height, TimestampMs


@dataclass(frozen=True)
class Conservation:
    """Money accounted for on one host: total supply against what accounts hold."""

    total_supply: int
    balances: int
    locked_in_escrow: int

    @property
    def is_conserved(self) -> bool:
        return self.total_supply == self.balances + self.locked_in_escrow


class Host(Protocol):
    """One replica's durable side: a chain store, its state and the application over it."""

    @property
    def application(self) -> Application: ...

    def commit(self, block: Block, certificate: CommitCertificate) -> None: ...

    def get_committed(self) -> tuple[Height, Hash, TimestampMs]: ...

    def get_certified_block(self, height: Height) -> tuple[Block, CommitCertificate] | None: ...

    def get_next_nonce(self, address: Address) -> int: ...

    def get_conservation(self) -> Conservation: ...

    def load_log(self) -> list[tuple[bytes, bytes]]: ...

    def write_log(self, puts: Sequence[tuple[bytes, bytes]], deletes: Sequence[bytes]) -> None: ...


class World(Protocol):
    @property
    def chain_id(self) -> str: ...

    @property
    def validator_keys(self) -> tuple[bytes, ...]: ...

    @property
    def start_ms(self) -> int: ...

    @property
    def accounts(self) -> tuple[Address, ...]:
        """Workload accounts that hold money at genesis, in a fixed order."""
        ...

    def get_key(self, index: int) -> PrivateKey: ...

    def open_host(self, index: int, *, wipe: bool) -> Host:
        """The host of instance ``index``: its storage as the last crash left it, or empty."""
        ...

    def make_transfer(self, sender: int, nonce: int, recipient: int, amount: int) -> Transaction:
        """A signed CBDC transfer between two workload accounts (by position in ``accounts``)."""
        ...
