"""The two ways a transaction can fail, and the codes each one carries.

A ``TransactionRejected`` means the transaction cannot even be put in a block:
it is for another chain, its sender is unknown, its nonce is not the next one,
or it calls something that does not exist with arguments of the wrong shape.
Nothing about the state changes, not even the nonce.

A ``ContractError`` means the transaction was well formed and its turn came,
but the contract refused it (no funds, no right, wrong state...). It goes in
the block with a failed receipt; the sender's nonce advances and every other
write is rolled back.

Both tables below are the single list of codes that docs, the client API and
the tests enumerate.
"""

from __future__ import annotations

from collections.abc import Mapping

from ledger.errors import LedgerError

REJECTION_CODES: Mapping[str, str] = {
    "WRONG_CHAIN": "the transaction names another chain id",
    "UNKNOWN_SENDER": "no account is registered for the sender's public key",
    "NONCE_REPLAYED": "the nonce was already used (or is taken by a waiting transaction)",
    "NONCE_GAP": "the nonce is ahead of the sender's next nonce",
    "UNKNOWN_CONTRACT": "no contract has that name",
    "UNKNOWN_METHOD": "the contract has no method of that name",
    "BAD_ARGUMENTS": "the arguments are missing, unknown, of the wrong type or malformed",
}

ERROR_CODES: Mapping[str, str] = {
    "INSUFFICIENT_FUNDS": "the account holds less money or fewer securities than the operation needs",
    "NOT_AUTHORIZED": "the sender's role or relation to the record does not allow the operation",
    "ACCOUNT_FROZEN": "the sender or the receiving account is frozen by the regulator",
    "LIMIT_EXCEEDED": "the amount is over the account's transfer limit or a supply bound",
    "EXPIRED": "the deal or escrow is past its expiry height, or the expiry given is not ahead",
    "UNKNOWN_SECURITY": "no security has that id",
    "UNKNOWN_ACCOUNT": "no account is registered at that address",
    "ALREADY_EXISTS": "an account, security, DvP or escrow with that identity already exists",
    "NOT_FOUND": "no DvP, escrow or hub has that id",
    "INVALID_AMOUNT": "an amount or quantity is not a positive integer below 2**63",
    "INVALID_STATE": "the record is not in a state that allows the operation",
    "SHORTFALL": "a net debtor in a netting batch cannot pay its net position",
}


class GenesisInvalid(LedgerError):
    """Raised when a genesis document cannot produce a consistent first state."""

    code = "BAD_GENESIS"


class TransactionRejected(LedgerError):
    """Raised when a transaction cannot be included in a block (see REJECTION_CODES)."""

    code = "BAD_ARGUMENTS"

    def __init__(self, message: str, *, code: str) -> None:
        if code not in REJECTION_CODES:
            raise ValueError(f"rejection code {code!r} is not in REJECTION_CODES")
        super().__init__(message, code=code)


class ContractError(Exception):
    """Raised by a contract when it refuses an admissible transaction (see ERROR_CODES)."""

    def __init__(self, code: str, message: str) -> None:
        if code not in ERROR_CODES:
            raise ValueError(f"contract error code {code!r} is not in ERROR_CODES")
        super().__init__(message)
        self.code = code
        self.message = message
