"""The mempool: admitted transactions waiting to be committed.

Admission is strict so that nothing admitted can wait forever: a transaction's
nonce must be exactly the sender's next one, counting the sender's committed
nonce and the transactions it already has waiting here. Resubmitting an
admitted transaction is idempotent (same id, same answer); a different
transaction for a nonce that is already taken is refused.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from ledger.errors import LedgerError
from ledger.transaction import Transaction
from ledger.types import Address, Hash
from node.errors import MempoolFull

NonceReader = Callable[[Address], int]


@dataclass(frozen=True, slots=True)
class Rejection:
    code: str
    message: str


class Mempool:
    def __init__(self, *, transactions_max: int, rejections_max: int = 10_000) -> None:
        self._transactions_max = transactions_max
        self._rejections_max = rejections_max
        self._by_id: OrderedDict[Hash, Transaction] = OrderedDict()
        self._by_sender: dict[Address, dict[int, Hash]] = {}
        self._rejections: OrderedDict[Hash, Rejection] = OrderedDict()

    def __len__(self) -> int:
        return len(self._by_id)

    def __contains__(self, transaction_id: Hash) -> bool:
        return transaction_id in self._by_id

    def get(self, transaction_id: Hash) -> Transaction | None:
        return self._by_id.get(transaction_id)

    def get_rejection(self, transaction_id: Hash) -> Rejection | None:
        return self._rejections.get(transaction_id)

    def get_pending_nonce(self, sender: Address, committed_nonce: int) -> int:
        """The nonce the sender's next transaction must carry."""
        waiting = self._by_sender.get(sender, {})
        nonce = committed_nonce
        while nonce in waiting:
            nonce += 1
        return nonce

    def add(self, transaction: Transaction, committed_nonce: int) -> bool:
        """Admit ``transaction``; False when it was already here. Raises LedgerError when refused."""
        if transaction.id in self._by_id:
            return False
        sender = transaction.sender_address
        expected = self.get_pending_nonce(sender, committed_nonce)
        if transaction.nonce < expected:
            raise LedgerError(
                f"nonce {transaction.nonce} is already used or taken by a waiting transaction; "
                f"the sender's next nonce is {expected}",
                code="NONCE_REPLAYED",
            )
        if transaction.nonce > expected:
            raise LedgerError(
                f"nonce {transaction.nonce} is ahead of the sender's next nonce {expected}; "
                "submit the missing transactions first",
                code="NONCE_GAP",
            )
        if len(self._by_id) >= self._transactions_max:
            raise MempoolFull(f"the mempool is full ({self._transactions_max} transactions); retry later")
        self._by_id[transaction.id] = transaction
        self._by_sender.setdefault(sender, {})[transaction.nonce] = transaction.id
        return True

    def remove_committed(self, transactions: Iterable[Transaction]) -> None:
        for transaction in transactions:
            self._forget(transaction.id)

    def remove_stale(self, get_committed_nonce: NonceReader) -> list[Transaction]:
        """Drop waiting transactions whose nonce a committed transaction already used
        (a conflicting spend that reached another hub first); they are marked rejected."""
        stale = []
        for sender, waiting in list(self._by_sender.items()):
            committed = get_committed_nonce(sender)
            for nonce in sorted(waiting):
                if nonce < committed:
                    stale.append(self._by_id[waiting[nonce]])
        for transaction in stale:
            self._forget(transaction.id)
            self.record_rejection(
                transaction.id,
                Rejection("NONCE_REPLAYED", "another transaction with the same nonce was committed first"),
            )
        return stale

    def record_rejection(self, transaction_id: Hash, rejection: Rejection) -> None:
        self._rejections[transaction_id] = rejection
        while len(self._rejections) > self._rejections_max:
            self._rejections.popitem(last=False)

    def list_waiting(self) -> list[Transaction]:
        """Waiting transactions, each sender's in nonce order (re-offered after a view change)."""
        ordered: list[Transaction] = []
        for waiting in self._by_sender.values():
            ordered.extend(self._by_id[waiting[nonce]] for nonce in sorted(waiting))
        return ordered

    def _forget(self, transaction_id: Hash) -> None:
        transaction = self._by_id.pop(transaction_id, None)
        if transaction is None:
            return
        waiting = self._by_sender.get(transaction.sender_address)
        if waiting is not None:
            waiting.pop(transaction.nonce, None)
            if not waiting:
                del self._by_sender[transaction.sender_address]
