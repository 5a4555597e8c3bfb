"""A real little HubLedger chain built offline, for the audit tests.

A four-hub network is generated with netgen (so genesis, validator keys and
account keys are the ones a real network has); blocks of CBDC transfers are
executed with the contracts, as the node executes them, and certified by
three of the four validator keys. The blocks are committed to an in-memory
ChainStore and written as a ``hubledger export`` file.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from contracts.context import BlockContext
from contracts.execution import execute_block
from contracts.genesis import compute_genesis_changes
from contracts.state import DictState
from hubledger_tools.audit.export import EXPORT_FORMAT, EXPORT_VERSION, to_export_line
from hubledger_tools.netgen import generate_network
from ledger.block import Block, BlockHeader, compute_transactions_root
from ledger.certificate import CommitCertificate, Vote, compute_commit_payload
from ledger.genesis import Genesis
from ledger.keys import PrivateKey
from ledger.receipt import Receipt, compute_receipts_root
from ledger.state_tree import StateTree
from ledger.transaction import Transaction
from ledger.types import Hash, Height, TimestampMs, ValidatorIndex, View
from storage.chain import ChainStore
from storage.kv import MemoryStore

HUBS = ["beijing", "shanghai", "shenzhen", "hangzhou"]


@dataclass
class AuditChain:
    directory: Path
    genesis: Genesis
    chain: ChainStore
    kv: MemoryStore  # under chain, which keeps undo records: earlier heights can be proven
    blocks: list[tuple[Block, CommitCertificate]] = field(default_factory=list)
    results: list[tuple[Receipt, ...]] = field(default_factory=list)
    changes: list[list[tuple[bytes, bytes | None]]] = field(default_factory=list)

    def commit_into(self, chain: ChainStore, height: int) -> None:
        """Commit block ``height`` (as built here) to another store of the same genesis."""
        block, certificate = self.blocks[height - 1]
        chain.commit_block(block, certificate, self.results[height - 1], self.changes[height - 1])

    @property
    def genesis_file(self) -> Path:
        return self.directory / "genesis.json"

    def validator_keys(self) -> list[PrivateKey]:
        return [PrivateKey.load(self.directory / "keys" / f"{hub}.pem") for hub in HUBS]

    def account_key(self, name: str) -> PrivateKey:
        return PrivateKey.load(self.directory / "accounts" / f"{name}.pem")

    def certify(self, header: BlockHeader, signers: tuple[int, ...] = (0, 1, 2)) -> CommitCertificate:
        keys = self.validator_keys()
        payload = compute_commit_payload(self.genesis.chain_id, header.view, header.height, header.hash)
        votes = tuple(Vote(ValidatorIndex(index), keys[index].sign(payload)) for index in signers)
        return CommitCertificate(header.height, header.view, header.hash, votes)

    def export_lines(self) -> list[dict[str, Any]]:
        return [
            to_export_line(
                {
                    "height": block.height,
                    "header": block.header.to_json(),
                    "transactions": [transaction.to_json() for transaction in block.transactions],
                    "certificate": certificate.to_json(),
                }
            )
            for block, certificate in self.blocks
        ]

    def write_export(self, path: Path, lines: list[dict[str, Any]] | None = None, **header: Any) -> Path:
        lines = self.export_lines() if lines is None else lines
        first = {
            "format": EXPORT_FORMAT,
            "version": EXPORT_VERSION,
            "chain_id": self.genesis.chain_id,
            "from_height": 1,
            "to_height": len(self.blocks),
            "node": "beijing",
            **header,
        }
        path.write_text("".join(json.dumps(line) + "\n" for line in [first, *lines]))
        return path


def build_audit_chain(
    directory: Path,
    *,
    block_count: int = 4,
    transfers_per_block: int = 3,
    overdrawn_nonces: frozenset[int] = frozenset(),
) -> AuditChain:
    """Blocks of transfers from bank-beijing to bank-shanghai; the transfers of
    ``overdrawn_nonces`` ask for more than the bank holds and commit as FAILED."""
    genesis = generate_network(HUBS, directory)
    changes = compute_genesis_changes(genesis)
    kv = MemoryStore()
    chain = ChainStore(kv, keep_undo=True)
    tree = StateTree(changes)
    chain.initialize(genesis.hash, changes)
    audit = AuditChain(directory, genesis, chain, kv)
    state = DictState(changes)
    sender = audit.account_key("bank-beijing")
    receiver = audit.account_key("bank-shanghai").public_key.address.hex()
    previous, nonce = genesis.hash, 0
    for height in range(1, block_count + 1):
        transactions = []
        for _ in range(transfers_per_block):
            transactions.append(
                Transaction.create(
                    sender,
                    chain_id=genesis.chain_id,
                    nonce=nonce,
                    contract="cbdc",
                    method="transfer",
                    args={"to": receiver, "amount": 2**62 if nonce in overdrawn_nonces else 100 + nonce},
                )
            )
            nonce += 1
        timestamp = TimestampMs(genesis.genesis_time_ms + height * 1000)
        result = execute_block(
            state,
            transactions,
            BlockContext(genesis.chain_id, Height(height), timestamp),
            skip_inadmissible=False,
        )
        header = BlockHeader(
            chain_id=genesis.chain_id,
            height=Height(height),
            previous_hash=Hash(previous),
            view=View(0),
            timestamp_ms=timestamp,
            proposer=ValidatorIndex(0),
            transactions_root=compute_transactions_root(tuple(transactions)),
            transaction_count=len(transactions),
            receipts_root=compute_receipts_root(result.receipts),
            state_root=tree.apply(result.changes),
        )
        block = Block(header, tuple(transactions))
        certificate = audit.certify(header)
        chain.commit_block(block, certificate, result.receipts, result.changes)
        state.apply_changes(result.changes)
        audit.blocks.append((block, certificate))
        audit.results.append(result.receipts)
        audit.changes.append(result.changes)
        previous = block.hash
    return audit
