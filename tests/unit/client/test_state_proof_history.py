"""A proof at an earlier height: rebuilt by the node from its undo records, it verifies offline
with genesis alone and shows the balance a hub that stopped at that height reads; a rebuilt
state that is not the certified one, or one whose undo records are gone, is never served."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from contracts.genesis import compute_genesis_changes
from contracts.queries import get_account
from hubledger_client.state_proof import verify_account_proof
from ledger import cbor
from ledger.types import Address
from node.application import ChainStateReader
from node.pruning import BlockPruner
from node.state_proofs import AccountProver
from storage import schema
from storage.chain import ChainStore
from storage.errors import DatabaseCorrupt, StorageError
from storage.history import decode_undo
from storage.kv import MemoryStore, WriteBatch
from tests.unit.node.audit_chain import AuditChain, build_audit_chain

BLOCKS = 4


@pytest.fixture
def audit(tmp_path: Path) -> AuditChain:
    return build_audit_chain(tmp_path / "net", block_count=BLOCKS, transfers_per_block=2)


def prove(audit: AuditChain, name: str, height: int | None, history: int = BLOCKS) -> dict[str, Any] | None:
    address = audit.account_key(name).public_key.address
    return asyncio.run(AccountProver(audit.chain, audit.kv, history_blocks=history).prove(address, height))


def balance_on_a_hub_that_stopped_at(audit: AuditChain, name: str, height: int) -> int:
    chain = ChainStore(MemoryStore())
    chain.initialize(audit.genesis.hash, compute_genesis_changes(audit.genesis))
    for committed in range(1, height + 1):
        audit.commit_into(chain, committed)
    account = get_account(ChainStateReader(chain), audit.account_key(name).public_key.address)
    assert account is not None
    return int(account["balance"])


@pytest.mark.parametrize("name", ["bank-beijing", "bank-shanghai"])
def test_a_proof_at_each_earlier_height_verifies_and_shows_that_heights_balance(
    audit: AuditChain, name: str
) -> None:
    balances = []
    for height in range(1, BLOCKS + 1):
        document = prove(audit, name, height)
        report = verify_account_proof(document, audit.genesis)
        assert (report.height, report.block_hash) == (height, audit.blocks[height - 1][0].hash)
        assert report.balance_fen == balance_on_a_hub_that_stopped_at(audit, name, height)
        balances.append(report.balance_fen)
    assert len(set(balances)) == BLOCKS  # every block moved money: each height tells its own balance
    assert prove(audit, name, None) == prove(audit, name, BLOCKS)  # the latest, by either path


def test_an_account_absent_at_an_earlier_height_is_proven_absent_there(audit: AuditChain) -> None:
    stranger = Address(b"\x42" * 20)
    document = asyncio.run(AccountProver(audit.chain, audit.kv, history_blocks=BLOCKS).prove(stranger, 1))
    report = verify_account_proof(document, audit.genesis)
    assert (report.exists, report.height) == (False, 1)


def test_an_undo_record_that_lies_yields_no_proof(audit: AuditChain) -> None:
    """The rebuilt root is checked against the certified header: a wrong old value is caught
    before any document exists, whichever key it is about."""
    key = schema.undo_key(BLOCKS)
    pairs = decode_undo(key, audit.kv.get(key) or b"")
    forged = [[pair[0], (pair[1] or b"") + b"\x00"] for pair in pairs[:1]] + [list(p) for p in pairs[1:]]
    batch = WriteBatch()
    batch.put(key, cbor.encode(forged))
    audit.kv.write(batch)
    with pytest.raises(DatabaseCorrupt, match="does not have the state root of its certified header"):
        prove(audit, "bank-shanghai", BLOCKS - 1)
    assert verify_account_proof(prove(audit, "bank-shanghai", None), audit.genesis).height == BLOCKS


def test_heights_past_the_state_history_are_refused_and_the_rest_still_proven(audit: AuditChain) -> None:
    pruner = BlockPruner(audit.chain, keep_blocks=0, state_history_blocks=2)
    pruner.after_commit()
    assert audit.chain.first_provable_height() == BLOCKS - 2
    with pytest.raises(StorageError) as refused:
        prove(audit, "bank-beijing", BLOCKS - 3)
    assert refused.value.code == "STATE_NOT_RETAINED"
    for height in (BLOCKS - 2, BLOCKS - 1, BLOCKS):
        assert verify_account_proof(prove(audit, "bank-beijing", height), audit.genesis).height == height


def test_a_hub_without_state_history_drops_every_undo_record(audit: AuditChain) -> None:
    BlockPruner(audit.chain, keep_blocks=0, state_history_blocks=0).after_commit()
    assert audit.chain.first_provable_height() == BLOCKS
    assert not list(audit.kv.iterate(prefix=schema.UNDO_PREFIX))


def test_a_height_past_the_configured_history_is_refused_though_its_records_are_kept(
    audit: AuditChain,
) -> None:
    """The history bounds what one question may cost, whatever a pruning hub still keeps."""
    with pytest.raises(StorageError) as refused:
        prove(audit, "bank-beijing", 1, history=2)
    assert refused.value.code == "STATE_NOT_RETAINED"
    assert verify_account_proof(prove(audit, "bank-beijing", 2, history=2), audit.genesis).height == 2
