"""A certified chain of N transfers written straight into the hubs' LevelDB stores.

Building a long chain through consensus takes as long as the chain is long; the
join benchmark (scripts/join_bench.py) needs one of 100,000 or 1,000,000 transfers.
So this builds it offline, the way the node would have: a netgen network (real
genesis, validator and account keys), then blocks of signed transactions executed
with the real contracts (contracts.execution.execute_block) over the chain store,
each header carrying the state root of the state tree, certified by COMMIT votes of
a quorum of the validators' keys and committed with ChainStore.commit_block. The
first blocks register ``accounts`` institutions (each hub's bank registers its
share), so the state a snapshot carries grows with the chain; then the banks send
transfers to them round robin. The first hub's store is copied to the others: a
network started from them is a network that committed that chain.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from contracts.context import BlockContext
from contracts.execution import execute_block
from contracts.genesis import compute_genesis_changes
from hubledger_tools.netgen import NetworkLayout, generate_network
from ledger.block import Block, BlockHeader, compute_transactions_root
from ledger.certificate import CommitCertificate, Vote, compute_commit_payload, compute_quorum
from ledger.genesis import Genesis
from ledger.keys import PrivateKey
from ledger.receipt import compute_receipts_root
from ledger.state_tree import StateTreeOverlay
from ledger.transaction import Transaction
from ledger.types import Hash, Height, TimestampMs, ValidatorIndex, View
from node.application import ChainStateReader
from storage.chain import ChainStore
from storage.kv import LevelDBStore

BLOCK_TRANSACTIONS = 500  # the default consensus.block_transactions_max
BLOCK_SPACING_MS = 100  # header timestamps: far in the past of any real clock after genesis


@dataclass(frozen=True)
class BuiltChain:
    genesis: Genesis
    height: int
    transfers: int
    accounts: int
    seconds: float


def build_chain(
    directory: Path,
    hubs: list[str],
    *,
    transfers: int,
    accounts: int,
    layout: NetworkLayout | None = None,
    chain_id: str = "hubledger-join-bench",
) -> BuiltChain:
    """Generate a network in ``directory`` and write the certified chain into every hub's store."""
    started = time.monotonic()
    genesis = generate_network(hubs, directory, chain_id=chain_id, layout=layout)
    validator_keys = [PrivateKey.load(directory / "keys" / f"{hub}.pem") for hub in hubs]
    banks = [PrivateKey.load(directory / "accounts" / f"bank-{hub}.pem") for hub in hubs]
    first = directory / "data" / hubs[0]
    kv = LevelDBStore.open(first)
    try:
        chain = ChainStore(kv)
        chain.initialize(genesis.hash, compute_genesis_changes(genesis))
        transactions = _generate(genesis, hubs, banks, transfers=transfers, accounts=accounts)
        height = _commit_all(chain, genesis, validator_keys, transactions)
    finally:
        kv.close()
    for hub in hubs[1:]:
        shutil.copytree(first, directory / "data" / hub)
    return BuiltChain(genesis, height, transfers, accounts, time.monotonic() - started)


def _generate(
    genesis: Genesis, hubs: list[str], banks: list[PrivateKey], *, transfers: int, accounts: int
) -> Iterator[Transaction]:
    nonces = [0] * len(banks)

    def signed(bank: int, contract: str, method: str, args: dict[str, object]) -> Transaction:
        nonce, nonces[bank] = nonces[bank], nonces[bank] + 1
        return Transaction.create(
            banks[bank], chain_id=genesis.chain_id, nonce=nonce, contract=contract, method=method, args=args
        )

    receivers = []
    for index in range(accounts):
        key = PrivateKey.generate()  # only its public key matters: nobody sends from these
        bank = index % len(banks)
        yield signed(
            bank, "accounts", "register_institution", {"public_key": key.public_key.hex(), "hub": hubs[bank]}
        )
        receivers.append(key.public_key.address.hex())
    for index in range(transfers):
        to = (
            receivers[index % len(receivers)]
            if receivers
            else banks[(index + 1) % len(banks)].public_key.address.hex()
        )
        yield signed(index % len(banks), "cbdc", "transfer", {"to": to, "amount": 1 + index % 100})


def _commit_all(
    chain: ChainStore, genesis: Genesis, validator_keys: list[PrivateKey], transactions: Iterator[Transaction]
) -> int:
    signers = range(compute_quorum(len(validator_keys)))
    state = ChainStateReader(chain)
    height = 0
    while True:
        batch = tuple(_take(transactions, BLOCK_TRANSACTIONS))
        if not batch:
            return height
        height += 1
        timestamp = TimestampMs(genesis.genesis_time_ms + height * BLOCK_SPACING_MS)
        context = BlockContext(genesis.chain_id, Height(height), timestamp)
        result = execute_block(state, batch, context, skip_inadmissible=False)
        if not all(receipt.success for receipt in result.receipts):
            failed = next(receipt for receipt in result.receipts if not receipt.success)
            raise RuntimeError(f"a generated transaction failed in block {height}: {failed}")
        header = BlockHeader(
            chain_id=genesis.chain_id,
            height=Height(height),
            previous_hash=Hash(chain.get_latest_hash()),
            view=View(0),
            timestamp_ms=timestamp,
            proposer=ValidatorIndex(0),
            transactions_root=compute_transactions_root(batch),
            transaction_count=len(batch),
            receipts_root=compute_receipts_root(result.receipts),
            state_root=StateTreeOverlay(chain.state_tree).apply(result.changes),
        )
        payload = compute_commit_payload(genesis.chain_id, header.view, header.height, header.hash)
        votes = tuple(Vote(ValidatorIndex(index), validator_keys[index].sign(payload)) for index in signers)
        certificate = CommitCertificate(header.height, header.view, header.hash, votes)
        chain.commit_block(Block(header, batch), certificate, result.receipts, result.changes)


def _take(items: Iterator[Transaction], count: int) -> Iterator[Transaction]:
    for _ in range(count):
        item = next(items, None)
        if item is None:
            return
        yield item
