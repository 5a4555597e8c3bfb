"""Mempool admission: exact next nonce, idempotent resubmission, bounded size, stale spends dropped."""

import pytest

from ledger.errors import LedgerError
from ledger.keys import PrivateKey
from ledger.transaction import Transaction
from node.errors import MempoolFull
from node.mempool import Mempool

ALICE = PrivateKey.from_secret(11)
BOB = PrivateKey.from_secret(12)
ALICE_ADDRESS = ALICE.public_key.address


def transfer(key: PrivateKey, nonce: int, amount: int = 1) -> Transaction:
    return Transaction.create(
        key, chain_id="test", nonce=nonce, contract="cbdc", method="transfer",
        args={"to": BOB.public_key.address.hex(), "amount": amount},
    )


def test_admits_consecutive_nonces_and_reports_the_next() -> None:
    pool = Mempool(transactions_max=10)
    assert pool.add(transfer(ALICE, 3), committed_nonce=3)
    assert pool.add(transfer(ALICE, 4), committed_nonce=3)
    assert pool.get_pending_nonce(ALICE.public_key.address, 3) == 5
    assert [tx.nonce for tx in pool.list_waiting()] == [3, 4]


def test_resubmission_is_idempotent() -> None:
    pool = Mempool(transactions_max=10)
    transaction = transfer(ALICE, 0)
    assert pool.add(transaction, committed_nonce=0)
    assert not pool.add(transaction, committed_nonce=0)
    assert len(pool) == 1


@pytest.mark.parametrize(("nonce", "code"), [(0, "NONCE_REPLAYED"), (4, "NONCE_GAP")])
def test_wrong_nonce_is_refused_with_a_stable_code(nonce: int, code: str) -> None:
    pool = Mempool(transactions_max=10, nonce_window=3)
    with pytest.raises(LedgerError) as caught:
        pool.add(transfer(ALICE, nonce), committed_nonce=1)
    assert caught.value.code == code
    assert len(pool) == 0


def test_conflicting_transaction_for_a_waiting_nonce_is_refused() -> None:
    pool = Mempool(transactions_max=10)
    pool.add(transfer(ALICE, 0, amount=1), committed_nonce=0)
    with pytest.raises(LedgerError) as caught:
        pool.add(transfer(ALICE, 0, amount=2), committed_nonce=0)
    assert caught.value.code == "NONCE_REPLAYED"


def test_full_pool_refuses_without_losing_what_it_holds() -> None:
    pool = Mempool(transactions_max=1)
    pool.add(transfer(ALICE, 0), committed_nonce=0)
    with pytest.raises(MempoolFull):
        pool.add(transfer(BOB, 0), committed_nonce=0)
    assert len(pool) == 1


def test_committed_and_stale_transactions_leave_the_pool() -> None:
    pool = Mempool(transactions_max=10)
    first, second = transfer(ALICE, 0), transfer(ALICE, 1)
    pool.add(first, committed_nonce=0)
    pool.add(second, committed_nonce=0)
    pool.remove_committed([first])
    assert first.id not in pool and second.id in pool
    stale = pool.remove_stale([ALICE_ADDRESS], lambda address: 2)  # a conflicting nonce-1 spend won elsewhere
    assert stale == [second]
    rejection = pool.get_rejection(second.id)
    assert rejection is not None and rejection.code == "NONCE_REPLAYED"
    assert len(pool) == 0


def test_a_nonce_ahead_is_held_until_the_gap_is_filled() -> None:
    pool = Mempool(transactions_max=10)
    sender = ALICE.public_key.address
    later, first = transfer(ALICE, 1), transfer(ALICE, 0)
    pool.add(later, committed_nonce=0)
    assert pool.take_ready([sender], lambda address: 0) == []
    pool.add(first, committed_nonce=0)
    assert pool.take_ready([sender], lambda address: 0) == [first, later]
    assert pool.take_ready([sender], lambda address: 0) == []  # handed out once
    assert pool.list_handed_out() == [first, later]


def test_a_held_transaction_becomes_ready_when_its_gap_commits_elsewhere() -> None:
    pool = Mempool(transactions_max=10)
    sender = ALICE.public_key.address
    held = transfer(ALICE, 1)
    pool.add(held, committed_nonce=0)
    assert pool.take_ready([sender], lambda address: 0) == []
    assert pool.take_ready([sender], lambda address: 1) == [held]


def test_only_transactions_handed_to_the_replica_count_as_handed_out() -> None:
    pool = Mempool(transactions_max=10)
    sender = ALICE.public_key.address
    first, second, gapped = transfer(ALICE, 0), transfer(ALICE, 1), transfer(ALICE, 3)
    for transaction in (first, second, gapped):
        pool.add(transaction, committed_nonce=0)
    assert pool.handed_out_count == 0
    assert pool.take_ready([sender], lambda address: 0) == [first, second]
    assert pool.handed_out_count == 2  # nonce 3 waits behind the gap at 2
    pool.remove_committed([first])
    assert pool.handed_out_count == 1
    pool.remove_stale([ALICE_ADDRESS], lambda address: 2)  # a conflicting nonce-1 spend won elsewhere
    assert pool.handed_out_count == 0 and len(pool) == 1
    pool.remove_stale([ALICE_ADDRESS], lambda address: 4)
    assert pool.handed_out_count == 0 and len(pool) == 0
