"""What a client is told when its transaction's fate is not known yet."""

from __future__ import annotations


class TransactionPending(TimeoutError):
    """Raised when a transaction was accepted but not seen committed by the deadline.

    It is still pending and may yet commit: a hub that lost its quorum after
    accepting it keeps it until the quorum is back. The safe retry is the same
    signed transaction (``Client.submit(transaction)`` again, or ``wait`` once
    more), never a new one with a new nonce, which could be executed as well and
    pay twice. ``GET /v1/transactions/{id}`` on any hub (``hubledger tx ID``)
    says what became of it.
    """

    def __init__(self, transaction_id: str, nonce: int | None, timeout_ms: int, status: str) -> None:
        self.transaction_id = transaction_id
        self.nonce = nonce
        self.timeout_ms = timeout_ms
        self.status = status  # the last status a hub gave: "pending" or "unknown"
        nonce_text = "" if nonce is None else f" (nonce {nonce})"
        super().__init__(
            f"transaction {transaction_id}{nonce_text} is still {status} after {timeout_ms} ms and may yet "
            "commit; do not send a new transaction with a new nonce, which could pay twice: follow this "
            f"one with `hubledger tx {transaction_id} --wait`, and if you retry, resubmit the same signed "
            "transaction or reuse the same nonce"
        )
