"""The mempool: admitted transactions waiting to be committed.

A client may send consecutive transactions to different hubs, so a hub can
see nonce 5 before nonce 4 has reached it or been committed. The mempool
therefore holds a window of nonces per sender, but hands the replica only
*ready* transactions: those whose nonces follow on without a gap from the
sender's committed nonce. A held transaction becomes ready when the gap is
filled here or committed elsewhere, so the primary never sees one it would
have to refuse. Resubmitting an admitted transaction is idempotent (same id,
same answer); a different transaction for a nonce that is already taken is
refused.
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
    def __init__(
        self, *, transactions_max: int, nonce_window: int = 1000, rejections_max: int = 10_000
    ) -> None:
        self._transactions_max = transactions_max
        self._nonce_window = nonce_window
        self._released: dict[Address, int] = {}  # per sender: the first nonce not yet handed to the replica
        self._rejections_max = rejections_max
        self._by_id: OrderedDict[Hash, Transaction] = OrderedDict()
        self._signatures: set[bytes] = set()
        self._by_sender: dict[Address, dict[int, Hash]] = {}
        self._rejections: OrderedDict[Hash, Rejection] = OrderedDict()
        self._handed_out = 0

    def __len__(self) -> int:
        return len(self._by_id)

    @property
    def handed_out_count(self) -> int:
        """Waiting transactions already handed to the replica: those held behind a nonce gap
        are not counted, since no rate of commits will clear them."""
        return self._handed_out

    def __contains__(self, transaction_id: Hash) -> bool:
        return transaction_id in self._by_id

    def holds_signature(self, signature: bytes) -> bool:
        """Whether a waiting transaction carries this signature: a cheap test, before a
        transaction is even decoded, of whether it may be one already admitted."""
        return signature in self._signatures

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
        self.validate_nonce(transaction, committed_nonce)
        if len(self._by_id) >= self._transactions_max:
            raise MempoolFull(f"the mempool is full ({self._transactions_max} transactions); retry later")
        self._by_id[transaction.id] = transaction
        self._signatures.add(transaction.signature)
        self._by_sender.setdefault(transaction.sender_address, {})[transaction.nonce] = transaction.id
        return True

    def validate_nonce(self, transaction: Transaction, committed_nonce: int) -> None:
        """Raise LedgerError unless the nonce is free and inside the sender's window."""
        waiting = self._by_sender.get(transaction.sender_address, {})
        if transaction.nonce < committed_nonce or transaction.nonce in waiting:
            expected = self.get_pending_nonce(transaction.sender_address, committed_nonce)
            raise LedgerError(
                f"nonce {transaction.nonce} is already used or taken by a waiting transaction; "
                f"the sender's next nonce is {expected}",
                code="NONCE_REPLAYED",
            )
        if transaction.nonce >= committed_nonce + self._nonce_window:
            raise LedgerError(
                f"nonce {transaction.nonce} is {self._nonce_window} or more ahead of the sender's "
                f"committed nonce {committed_nonce}; submit the missing transactions first",
                code="NONCE_GAP",
            )

    def take_ready(self, senders: Iterable[Address], get_committed_nonce: NonceReader) -> list[Transaction]:
        """Transactions of ``senders`` that now follow on from the committed nonce and were not
        yet handed out, each sender's in nonce order; they are marked handed out."""
        ready = []
        for sender in senders:
            waiting = self._by_sender.get(sender)
            if not waiting:
                continue
            nonce = max(self._released.get(sender, 0), get_committed_nonce(sender))
            while nonce in waiting:
                ready.append(self._by_id[waiting[nonce]])
                nonce += 1
            self._released[sender] = nonce
        self._handed_out += len(ready)
        return ready

    def list_handed_out(self) -> list[Transaction]:
        """Waiting transactions already handed to the replica."""
        handed: list[Transaction] = []
        for sender, waiting in self._by_sender.items():
            released = self._released.get(sender, 0)
            handed.extend(self._by_id[waiting[nonce]] for nonce in sorted(waiting) if nonce < released)
        return handed

    def remove_committed(self, transactions: Iterable[Transaction]) -> None:
        for transaction in transactions:
            self._forget(transaction.id)

    def remove_stale(self, senders: Iterable[Address], get_committed_nonce: NonceReader) -> list[Transaction]:
        """Drop waiting transactions of ``senders`` (those whose nonces a commit just advanced)
        whose nonce a committed transaction already used (a conflicting spend that reached
        another hub first); they are marked rejected."""
        stale = []
        for sender in senders:
            waiting = self._by_sender.get(sender)
            if not waiting:
                continue
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
        self._signatures.discard(transaction.signature)
        if transaction.nonce < self._released.get(transaction.sender_address, 0):
            self._handed_out -= 1
        waiting = self._by_sender.get(transaction.sender_address)
        if waiting is not None:
            waiting.pop(transaction.nonce, None)
            if not waiting:
                del self._by_sender[transaction.sender_address]
                self._released.pop(transaction.sender_address, None)
