"""The client requests a replica holds until they are committed.

Every replica keeps the requests it received (from its node, or forwarded by a
backup) until a delivered block holds them: if the primary fails, the next
one still has them. A request that a committed block already holds is never
queued again (the replica asks its application before it adds a peer's copy,
which can arrive late). Two more pieces of bookkeeping live here.

The primary's application leaves out requests that are inadmissible on top of
the parent (a nonce gap may make that temporary). A left-out request is
parked until the state changes, then retried, and given up once it has been
left out ``LEFT_OUT_MAX`` times over at least ``left_out_patience_ms``;
re-forwards of a given-up request are ignored until a request of the same sender
commits (its predecessor by nonce, late from a partition, makes it admissible:
ignored for good, it and every later request of its sender would be stranded). The patience matters under
load: blocks then follow each other in milliseconds, and a request whose
predecessor (by nonce) was still on its way was given up after three blocks,
which stranded every later request of its sender for good.

Requests forwarded by peers count against their forwarder's share
(``peer_transactions_max``), so one faulty validator flooding request
batches fills its own share, never the whole queue; their signatures were
checked at the door (``consensus.message_door.decode_message``).

A backup offers each request to the primary and watches what follows
(``review_offers``): no delivery at all since the last offer means the primary
is silent; a delivery without the request means it may have been left out or
lost, so it is offered again a few times and then given up. A primary answers
an offer of a request it refused with a block (empty if need be), so a
refused request never looks like a silent primary.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from ledger.transaction import Transaction
from ledger.types import Hash

LEFT_OUT_MAX = 3
OFFERS_MAX = 3
REJECTED_MAX = 10_000  # given-up ids remembered, oldest forgotten first
BLOCK_OVERHEAD_BYTES = 1024  # header and framing, left free when filling block_bytes_max


@dataclass(frozen=True)
class OfferReview:
    again: list[Transaction]  # offer these once more
    suspect: bool  # some request saw no delivery at all since it was offered
    given_up: int


class RequestQueue:
    def __init__(
        self,
        *,
        transactions_max: int,
        block_transactions_max: int,
        block_bytes_max: int,
        left_out_patience_ms: int,
        peer_transactions_max: int | None = None,
    ) -> None:
        self._transactions_max = transactions_max
        self.peer_transactions_max = peer_transactions_max or transactions_max
        self._forwarded_by: dict[Hash, int] = {}  # a peer's request: who forwarded it first
        self._peer_counts: dict[int, int] = {}
        self._left_out_patience_ms = left_out_patience_ms
        self._block_transactions_max = block_transactions_max
        self._block_bytes_max = block_bytes_max
        self._pending: dict[Hash, Transaction] = {}  # arrival order
        self._left_out: dict[Hash, tuple[int, int]] = {}  # (times left out, when first)
        self._parked: set[Hash] = set()
        self._rejected: dict[Hash, bytes] = {}  # given up: the sender, oldest first
        self._rejected_by_sender: dict[bytes, set[Hash]] = {}
        self._offers: dict[Hash, tuple[int, int]] = {}  # (times offered, when last offered)

    def __len__(self) -> int:
        return len(self._pending)

    def get_all(self) -> list[Transaction]:
        return list(self._pending.values())

    def add(
        self, transactions: Sequence[Transaction], *, from_peer: bool, peer: int | None = None
    ) -> tuple[list[Transaction], int]:
        """Queue new requests (``peer``: who forwarded them); returns those added and how
        many did not fit, in the queue or in the forwarder's share."""
        added, refused = [], 0
        for transaction in transactions:
            transaction_id = transaction.id
            if transaction_id in self._pending or (from_peer and transaction_id in self._rejected):
                continue
            if len(self._pending) >= self._transactions_max:
                refused += 1
                continue
            if peer is not None:
                if self._peer_counts.get(peer, 0) >= self.peer_transactions_max:
                    refused += 1
                    continue
                self._forwarded_by[transaction_id] = peer
                self._peer_counts[peer] = self._peer_counts.get(peer, 0) + 1
            self._pending[transaction_id] = transaction
            added.append(transaction)
        return added, refused

    def get_peer_count(self, peer: int) -> int:
        return self._peer_counts.get(peer, 0)

    def has_refused(self, transactions: Sequence[Transaction]) -> bool:
        """Whether any of these (offered again by a backup) was left out or given up before."""
        return any(tx.id in self._parked or tx.id in self._rejected for tx in transactions)

    def remove(self, transaction_id: Hash) -> None:
        self._pending.pop(transaction_id, None)
        peer = self._forwarded_by.pop(transaction_id, None)
        if peer is not None:
            self._peer_counts[peer] -= 1
            if not self._peer_counts[peer]:
                del self._peer_counts[peer]
        self._left_out.pop(transaction_id, None)
        self._parked.discard(transaction_id)
        self._offers.pop(transaction_id, None)

    def remove_committed(self, transactions: Sequence[Transaction]) -> None:
        for transaction in transactions:
            self.remove(transaction.id)
            for forgiven in self._rejected_by_sender.pop(transaction.sender, ()):
                self._rejected.pop(forgiven, None)  # its sender's state changed: may be admissible
        if transactions:
            self._parked.clear()  # the state changed: what was inadmissible may be admissible now

    def take_batch(self, in_flight: set[Hash]) -> tuple[list[Transaction], bool]:
        """The next block's requests, and whether they make a full block."""
        batch: list[Transaction] = []
        size_bytes = BLOCK_OVERHEAD_BYTES
        for transaction_id, transaction in self._pending.items():
            if transaction_id in in_flight or transaction_id in self._parked:
                continue
            if size_bytes + len(transaction.encoded) > self._block_bytes_max:
                return batch, True
            batch.append(transaction)
            size_bytes += len(transaction.encoded)
            if len(batch) >= self._block_transactions_max:
                return batch, True
        return batch, False

    def note_left_out(self, transaction_ids: Iterable[Hash], now_ms: int) -> bool:
        """Record requests the application left out of a block; True if one was left out
        for the first time."""
        first_time = False
        for transaction_id in transaction_ids:
            strikes, first_ms = self._left_out.get(transaction_id, (0, now_ms))
            strikes += 1
            first_time = first_time or strikes == 1
            if strikes < LEFT_OUT_MAX or now_ms - first_ms < self._left_out_patience_ms:
                self._left_out[transaction_id] = (strikes, first_ms)
                self._parked.add(transaction_id)
                continue
            self._reject(transaction_id)
        return first_time

    def _reject(self, transaction_id: Hash) -> None:
        transaction = self._pending.get(transaction_id)
        self.remove(transaction_id)
        if transaction is None:
            return
        self._rejected[transaction_id] = transaction.sender
        self._rejected_by_sender.setdefault(transaction.sender, set()).add(transaction_id)
        if len(self._rejected) > REJECTED_MAX:
            oldest, sender = next(iter(self._rejected.items()))
            del self._rejected[oldest]
            held = self._rejected_by_sender.get(sender)
            if held is not None:
                held.discard(oldest)
                if not held:
                    del self._rejected_by_sender[sender]

    def mark_offered(self, transactions: Sequence[Transaction], now_ms: int) -> None:
        """Offered to a (new) primary: their count starts afresh."""
        for transaction in transactions:
            self._offers[transaction.id] = (1, now_ms)

    def review_offers(self, *, now_ms: int, timeout_ms: int, last_delivery_ms: int) -> OfferReview:
        """Judge the requests offered at least ``timeout_ms`` ago and still not committed."""
        again: list[Transaction] = []
        suspect, given_up = False, 0
        for transaction_id, transaction in list(self._pending.items()):
            count, offered_ms = self._offers.get(transaction_id, (1, now_ms))
            if offered_ms > now_ms - timeout_ms:
                continue
            if last_delivery_ms <= offered_ms:
                suspect = True  # the primary did nothing at all since
            elif count < OFFERS_MAX:
                self._offers[transaction_id] = (count + 1, now_ms)
                again.append(transaction)
            else:
                self.remove(transaction_id)
                given_up += 1
        return OfferReview(again, suspect, given_up)
