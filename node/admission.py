"""Admission: the rules that decide whether this node accepts a submitted transaction.

``validate_submission`` is the one place they are written, in the order they
are checked: the chain id; whether the transaction is already held or
committed (then it is answered with that status: resubmission is idempotent);
that the hub reaches a quorum and is not behind (NO_QUORUM, BEHIND: the rule
is node/standing.py's, the refusal is handed in); that the node is not
overloaded (BUSY, below); the signature; the nonce; that
the contract call is admissible for the sender's account; and that its arguments pass
the contract's own stateless checks (an amount out of range is INVALID_AMOUNT here, a
400 that spends no nonce, rather than a failed receipt that spends one). The first
failure raises ``SubmissionRefused`` (or the mempool's or contracts' own typed
error) and nothing is kept. ``Node.submit`` applies them to every transaction
it is given, and the HTTP handlers (node/api/transactions.py) go through it.
Each submission looks its id up in the chain once and reads the sender's
committed nonce once.

Overload: refuse new submissions while this node's backlog is seconds deep.
Without it an overloaded network accepted everything: mempools grew to
100,000 transactions, blocks grew to their maximum, event loops stalled long
enough for view changes, and every transaction waited tens of seconds. A
client told "busy, retry shortly" can go elsewhere or slow down; a client told
"pending" and then kept waiting cannot. The backlog is measured in time: the
transactions this node has handed to consensus and not yet seen committed
(not those held behind a sender's nonce gap: no rate of commits clears them),
divided by the rate at which its transactions have been committed recently.
Below a floor everything is admitted, so light load and a freshly started node
(no rate yet) never see a refusal.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from typing import Any, Literal, Protocol

from contracts.errors import ContractError
from contracts.execution import validate_admissible, validate_arguments
from ledger.errors import LedgerError
from ledger.genesis import Genesis
from ledger.transaction import Transaction
from ledger.types import Address
from node.application import LedgerApplication
from node.config_sections import NodeConfig
from node.mempool import Mempool
from storage.chain import ChainStore

RATE_WINDOW_MS = 5000
BAD_SIGNATURE_MESSAGE = "the signature does not verify against the sender's key"


class AdmissionControl:
    def __init__(self, *, backlog_max_ms: int, backlog_floor: int) -> None:
        self._backlog_max_ms = backlog_max_ms
        self._backlog_floor = backlog_floor
        self._commits: deque[tuple[int, int]] = deque()  # (time_ms, transactions of ours committed)
        self._committed_in_window = 0

    def on_committed(self, transaction_count: int, now_ms: int) -> None:
        """Count ``transaction_count`` of this node's admitted transactions as committed now."""
        if transaction_count:
            self._commits.append((now_ms, transaction_count))
            self._committed_in_window += transaction_count
        self._expire(now_ms)

    def get_rate_per_s(self, now_ms: int) -> float:
        """Transactions of ours committed per second over the last few seconds."""
        self._expire(now_ms)
        return self._committed_in_window * 1000 / RATE_WINDOW_MS

    def is_busy(self, pending_count: int, now_ms: int) -> bool:
        """True when ``pending_count`` waiting transactions would take longer than the allowed
        backlog to commit at the recent rate (and are more than the floor)."""
        if pending_count < self._backlog_floor:
            return False
        return pending_count >= self.get_rate_per_s(now_ms) * self._backlog_max_ms / 1000

    def _expire(self, now_ms: int) -> None:
        while self._commits and self._commits[0][0] <= now_ms - RATE_WINDOW_MS:
            _, count = self._commits.popleft()
            self._committed_in_window -= count


class SubmissionRefused(LedgerError):
    """Raised when a submission breaks an admission rule; ``status`` is the HTTP status the API
    answers with (400, or 503 for BUSY: retry shortly or elsewhere)."""

    def __init__(self, code: str, message: str, *, status: int = 400) -> None:
        super().__init__(message, code=code)
        self.status = status


class SubmissionContext(Protocol):
    """What the admission rules read from the node (node/service.py's ``Node``)."""

    genesis: Genesis
    config: NodeConfig
    mempool: Mempool
    chain: ChainStore
    application: LedgerApplication

    def get_committed_nonce(self, address: Address) -> int: ...

    def is_busy(self) -> bool: ...


@dataclass(frozen=True, slots=True)
class Admitted:
    """A submission the rules let through: already ``committed``, already ``pending`` here, or
    ``new`` (to be added to the mempool with the ``committed_nonce`` read while checking it)."""

    status: Literal["committed", "pending", "new"]
    committed_nonce: int = 0


def validate_submission(
    node: SubmissionContext, transaction: Transaction, refusal: LedgerError | None = None
) -> Admitted:
    """Apply every admission rule to ``transaction``; raises on the first it breaks.
    ``refusal`` is what a new transaction is refused with while the hub may not take any
    (node/standing.py), or None."""
    if transaction.chain_id != node.genesis.chain_id:
        raise SubmissionRefused(
            "WRONG_CHAIN",
            f"transaction is for chain {transaction.chain_id!r}; this network is {node.genesis.chain_id!r}",
        )
    # The id covers the signature: a transaction already held or committed was verified then.
    if transaction.id in node.mempool:
        return Admitted("pending")
    if node.chain.has_transaction(transaction.id):
        return Admitted("committed")
    if refusal is not None:
        raise refusal
    # Before the signature check, the costliest: an overloaded node that verified what it then
    # refused spent its time on clients' retries instead of on committing.
    refuse_unknown_when_busy(node, None)
    if not node.application.has_valid_signature(transaction):
        raise SubmissionRefused("BAD_SIGNATURE", BAD_SIGNATURE_MESSAGE)
    committed_nonce = node.get_committed_nonce(transaction.sender_address)
    node.mempool.validate_nonce(transaction, committed_nonce)
    # The mempool owns nonce order at admission (a window, since clients may use several
    # hubs); the contracts check everything else about the call.
    validate_admissible(
        node.application.committed_state,
        transaction,
        chain_id=node.genesis.chain_id,
        pending_nonce=transaction.nonce,
        committed_nonce=committed_nonce,
    )
    try:  # the contract's own stateless checks: execution would fail it with the same code
        validate_arguments(transaction)
    except ContractError as error:
        raise SubmissionRefused(error.code, error.message) from None
    return Admitted("new", committed_nonce)


def refuse_unknown_when_busy(node: SubmissionContext, item: Any) -> None:
    """Refuse BUSY a submission the node is busy for and does not hold; ``item`` is the
    submitted document, checked before it is decoded, or None for one already decoded.

    Under overload most of what arrives is clients offering refused transactions again:
    decoding each only to refuse it kept an overloaded node busy refusing. A submission
    whose signature a waiting transaction carries goes on to be decoded and answered
    with its status; one that is malformed is refused BUSY like any other.
    """
    if not node.is_busy():
        return
    signature = item.get("signature") if isinstance(item, dict) else None
    if isinstance(signature, str):
        try:
            signature = bytes.fromhex(signature)
        except ValueError:
            signature = None
    if isinstance(signature, bytes) and node.mempool.holds_signature(signature):
        return
    backlog_max_ms = node.config.mempool.backlog_max_ms
    raise SubmissionRefused(
        "BUSY",
        f"this node holds more waiting transactions than it can commit in {backlog_max_ms} ms; "
        "nothing was kept: retry shortly or submit to another hub",
        status=503,
    )
