"""Full replicas for the simulator: contracts and in-memory storage behind consensus.

``LedgerWorld`` implements ``consensus.simulation.world.World``: a genesis with
fixed keys, one ``MemoryStore`` per simulated instance (kept across a crash,
or wiped) holding the very ``ChainStore`` and consensus log the node keeps in
LevelDB, and ``LedgerApplication`` executing the real contracts. Signatures
are deterministic (RFC 6979), so block and transaction hashes, and with them
the whole run, depend on the seed alone.
"""

from __future__ import annotations

import functools
import random
from collections.abc import Sequence

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

from consensus.simulation.randomness import RandomSource
from consensus.simulation.simulator import SimulationConfig, SimulationResult, Simulator
from consensus.simulation.world import Conservation
from contracts import accessors, queries
from contracts.genesis import compute_genesis_changes
from ledger.block import Block
from ledger.certificate import CommitCertificate
from ledger.genesis import Genesis, GenesisAccount, Validator
from ledger.keys import PrivateKey
from ledger.transaction import Transaction
from ledger.types import Address, Hash, Height, TimestampMs
from node.application import ChainStateReader, LedgerApplication
from storage.chain import ChainStore
from storage.consensus_log import ConsensusLogStore
from storage.kv import MemoryStore

CHAIN_ID = "hubledger-simulation"
GENESIS_TIME_MS = 1_767_225_600_000
WORKLOAD_ACCOUNTS = 6
OPENING_BALANCE = 1_000_000_000
_DETERMINISTIC = ec.ECDSA(hashes.SHA256(), deterministic_signing=True)
_CURVE_ORDER = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551


class DeterministicKey(PrivateKey):
    """Signs with RFC 6979 nonces: the same message gives the same signature, every run."""

    __slots__ = ()

    def sign(self, message: bytes) -> bytes:
        r, s = decode_dss_signature(self._key.sign(message, _DETERMINISTIC))
        s = min(s, _CURVE_ORDER - s)  # low S, as every HubLedger signature
        return r.to_bytes(32, "big") + s.to_bytes(32, "big")


@functools.cache
def get_key(secret: int) -> DeterministicKey:
    return DeterministicKey(ec.derive_private_key(secret, ec.SECP256R1()))


class MemoryHost:
    """One instance's storage, as a node keeps it, in memory."""

    def __init__(self, kv: MemoryStore, genesis: Genesis, accounts: Sequence[Address]) -> None:
        self.kv = kv
        self.chain = ChainStore(kv)
        changes = compute_genesis_changes(genesis)
        self.chain.initialize(genesis.hash, changes)
        self.log = ConsensusLogStore(kv)
        self._application = LedgerApplication(chain=self.chain, chain_id=genesis.chain_id)
        self._state = ChainStateReader(self.chain)
        self._genesis = genesis
        self._accounts = accounts

    @property
    def application(self) -> LedgerApplication:
        return self._application

    def commit(self, block: Block, certificate: CommitCertificate) -> None:
        self._application.commit(block, certificate)

    def get_committed(self) -> tuple[Height, Hash, TimestampMs]:
        height = self.chain.latest_height()
        header = self.chain.get_header(height)
        timestamp_ms = header.timestamp_ms if header else self._genesis.genesis_time_ms
        return height, self.chain.get_latest_hash(), timestamp_ms

    def get_certified_block(self, height: Height) -> tuple[Block, CommitCertificate] | None:
        block = self.chain.get_block(height)
        certificate = self.chain.get_certificate(height)
        return None if block is None or certificate is None else (block, certificate)

    def get_next_nonce(self, address: Address) -> int:
        return accessors.get_nonce(self._state, address)

    def get_conservation(self) -> Conservation:
        balances = sum(accessors.get_balance(self._state, address) for address in self._accounts)
        return Conservation(
            total_supply=queries.get_total_supply(self._state),
            balances=balances,
            locked_in_escrow=queries.get_locked_in_escrow(self._state),
        )

    def load_log(self) -> list[tuple[bytes, bytes]]:
        return self.log.load()

    def write_log(self, puts: Sequence[tuple[bytes, bytes]], deletes: Sequence[bytes]) -> None:
        self.log.put(puts)
        self.log.delete(deletes)


class LedgerWorld:
    """A network of ``validators`` hubs and a few funded banks, all keys fixed."""

    def __init__(self, validators: int) -> None:
        self._validator_keys = [get_key(1_000 + index) for index in range(validators)]
        hubs = [f"hub-{index}" for index in range(validators)]
        self._account_keys = [get_key(2_000 + index) for index in range(WORKLOAD_ACCOUNTS)]
        accounts = [
            GenesisAccount("central-bank", get_key(3_000).public_key, "central_bank", hubs[0], 0),
            GenesisAccount("regulator", get_key(3_001).public_key, "regulator", hubs[0], 0),
        ]
        accounts += [
            GenesisAccount(f"bank-{index}", key.public_key, "bank", hubs[index % validators], OPENING_BALANCE)
            for index, key in enumerate(self._account_keys)
        ]
        self.genesis = Genesis(
            CHAIN_ID,
            TimestampMs(GENESIS_TIME_MS),
            tuple(
                Validator(hub, key.public_key) for hub, key in zip(hubs, self._validator_keys, strict=True)
            ),
            tuple(accounts),
        )
        self._addresses = tuple(key.public_key.address for key in self._account_keys)
        self._stores: dict[int, MemoryStore] = {}

    @property
    def chain_id(self) -> str:
        return self.genesis.chain_id

    @property
    def validator_keys(self) -> tuple[bytes, ...]:
        return self.genesis.validator_keys

    @property
    def start_ms(self) -> int:
        return GENESIS_TIME_MS + 1_000

    @property
    def accounts(self) -> tuple[Address, ...]:
        return self._addresses

    def get_key(self, index: int) -> PrivateKey:
        return self._validator_keys[index]

    def open_host(self, index: int, *, wipe: bool) -> MemoryHost:
        if wipe or index not in self._stores:
            self._stores[index] = MemoryStore()
        return MemoryHost(self._stores[index], self.genesis, self._addresses)

    def make_transfer(self, sender: int, nonce: int, recipient: int, amount: int) -> Transaction:
        return Transaction.create(
            self._account_keys[sender],
            chain_id=self.chain_id,
            nonce=nonce,
            contract="cbdc",
            method="transfer",
            args={"to": self._addresses[recipient].hex(), "amount": amount},
        )


def make_random(seed: int) -> RandomSource:
    return random.Random(seed)


def run_simulation(config: SimulationConfig) -> SimulationResult:
    """One seeded run of full replicas; the same config always gives the same result."""
    return Simulator(LedgerWorld(config.nodes), config, make_random).run()
