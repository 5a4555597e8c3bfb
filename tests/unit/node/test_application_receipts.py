"""A replica refuses, before it votes, a block whose receipts_root is not what executing it gives.

The primary's LedgerApplication builds a block of transfers, one of which
overdraws and FAILS; a second application over its own store (another
replica) validates it as it would a PRE-PREPARE. A header claiming other
receipts (the failed transfer as a success, or any other root) is refused
with InvalidBlock, however well-formed the rest of the block is.
"""

from __future__ import annotations

import dataclasses

import pytest

from consensus.application import InvalidBlock
from contracts.genesis import compute_genesis_changes
from ledger.block import Block
from ledger.genesis import Genesis
from ledger.receipt import Receipt, compute_receipts_root
from ledger.transaction import Transaction
from ledger.types import Height, TimestampMs, ValidatorIndex, View
from node.application import LedgerApplication
from storage.chain import ChainStore
from storage.kv import MemoryStore
from tests.unit.node.audit_chain import AuditChain, build_audit_chain


@pytest.fixture(scope="module")
def audit(tmp_path_factory: pytest.TempPathFactory) -> AuditChain:
    return build_audit_chain(tmp_path_factory.mktemp("replica") / "net", block_count=1)


def open_replica(genesis: Genesis) -> LedgerApplication:
    chain = ChainStore(MemoryStore())
    changes = compute_genesis_changes(genesis)
    chain.initialize(genesis.hash, changes)
    return LedgerApplication(chain=chain, chain_id=genesis.chain_id)


def build_block(audit: AuditChain) -> tuple[Block, list[Transaction]]:
    sender = audit.account_key("bank-beijing")
    receiver = audit.account_key("bank-shanghai").public_key.address.hex()
    transactions = [
        Transaction.create(
            sender,
            chain_id=audit.genesis.chain_id,
            nonce=nonce,
            contract="cbdc",
            method="transfer",
            args={"to": receiver, "amount": 2**62 if nonce == 1 else 100},
        )
        for nonce in range(3)
    ]
    block = open_replica(audit.genesis).build_block(
        previous_hash=audit.genesis.hash,
        height=Height(1),
        view=View(0),
        proposer=ValidatorIndex(0),
        timestamp_ms=TimestampMs(audit.genesis.genesis_time_ms + 1000),
        transactions=transactions,
    )
    return block, transactions


def test_the_primary_commits_to_the_receipts_and_a_replica_agrees(audit: AuditChain) -> None:
    block, transactions = build_block(audit)
    assert block.transactions == tuple(transactions)  # the overdraft is included, as FAILED
    open_replica(audit.genesis).validate_block(block)


def test_a_block_claiming_a_failed_transfer_succeeded_is_refused(audit: AuditChain) -> None:
    block, _ = build_block(audit)
    honest = open_replica(audit.genesis)
    honest.validate_block(block)
    receipts = list(honest.commit(block, audit.certify(block.header)))
    assert [receipt.success for receipt in receipts] == [True, False, True]
    receipts[1] = Receipt(success=True)
    forged = Block(
        dataclasses.replace(block.header, receipts_root=compute_receipts_root(receipts)), block.transactions
    )
    with pytest.raises(InvalidBlock) as raised:
        open_replica(audit.genesis).validate_block(forged)
    assert raised.value.message == (
        f"block's receipts_root {forged.header.receipts_root.hex()} differs from the root "
        f"{block.header.receipts_root.hex()} of the receipts executing it gives"
    )
