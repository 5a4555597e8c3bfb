"""Executing transactions and blocks over a state.

Theory of operation. A transaction is first *admissible* or not: right chain,
a registered sender, exactly the sender's next nonce, a contract and method
that exist, arguments of the right shape. An inadmissible transaction never
enters a block; the primary leaves it out, and a backup that finds one in a
proposed block refuses the block. An admissible transaction always advances
its sender's nonce, then runs its method inside a snapshot: if the contract
raises ContractError the snapshot is reverted and the receipt carries the
code, so a failed transaction changes nothing but the nonce. Nothing here
reads a clock, draws randomness or depends on dict order: two nodes executing
the same transactions over the same state produce the same changes.
Signatures are not checked here; the node verifies them before calling in.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from contracts import accessors
from contracts.context import BlockContext
from contracts.errors import ContractError, TransactionRejected
from contracts.method import Method
from contracts.registry import CONTRACTS
from contracts.state import Overlay, StateReader
from ledger.receipt import Receipt
from ledger.transaction import Transaction
from ledger.types import UINT63_MAX, Address


@dataclass(frozen=True)
class BlockResult:
    transactions: tuple[Transaction, ...]
    receipts: tuple[Receipt, ...]
    overlay: Overlay
    changes: list[tuple[bytes, bytes | None]]


def get_next_nonce(state: StateReader, address: Address) -> int:
    return accessors.get_nonce(state, address)


def validate_admissible(
    state: StateReader,
    transaction: Transaction,
    *,
    chain_id: str,
    pending_nonce: int | None = None,
    committed_nonce: int | None = None,
) -> None:
    """Raise TransactionRejected unless ``transaction`` may be included in a block.

    ``pending_nonce`` is the nonce the mempool expects next from this sender
    (counting its waiting transactions); by default the state's next nonce.
    ``committed_nonce`` is the state's next nonce when the caller has read it
    already (admission reads it once per submission); by default it is read here.
    """
    _admit(
        state, transaction, chain_id=chain_id, pending_nonce=pending_nonce, committed_nonce=committed_nonce
    )


def _admit(
    state: StateReader,
    transaction: Transaction,
    *,
    chain_id: str,
    pending_nonce: int | None,
    committed_nonce: int | None = None,
) -> tuple[Method[Any], Any]:
    if transaction.chain_id != chain_id:
        raise TransactionRejected(
            f"transaction is for chain {transaction.chain_id!r}, this is {chain_id!r}", code="WRONG_CHAIN"
        )
    sender = transaction.sender_address
    if accessors.get_account(state, sender) is None:
        raise TransactionRejected(f"no account is registered at {sender.hex()}", code="UNKNOWN_SENDER")
    committed = get_next_nonce(state, sender) if committed_nonce is None else committed_nonce
    _validate_nonce(committed, transaction.nonce, pending_nonce)
    return _parse_call(transaction)


def validate_arguments(transaction: Transaction) -> None:
    """Raise ContractError when the call's arguments break a rule of its contract that reads
    nothing but them (``Method.validate``: an amount out of range), which executing it would
    fail with too; TransactionRejected when it is no call at all. Reads no state: node
    admission runs it, so such a transaction is refused before it can spend a nonce."""
    method, args = _parse_call(transaction)
    method.validate(args)


def _parse_call(transaction: Transaction) -> tuple[Method[Any], Any]:
    methods = CONTRACTS.get(transaction.contract)
    if methods is None:
        known = ", ".join(sorted(CONTRACTS))
        raise TransactionRejected(
            f"no contract is named {transaction.contract!r} (known: {known})", code="UNKNOWN_CONTRACT"
        )
    method = methods.get(transaction.method)
    if method is None:
        known = ", ".join(sorted(methods))
        raise TransactionRejected(
            f"contract {transaction.contract!r} has no method {transaction.method!r} (known: {known})",
            code="UNKNOWN_METHOD",
        )
    return method, method.parse(transaction.args)


def _validate_nonce(committed: int, nonce: int, pending_nonce: int | None) -> None:
    expected = committed if pending_nonce is None else max(pending_nonce, committed)
    if nonce < expected:
        raise TransactionRejected(
            f"nonce {nonce} is already used; the sender's next nonce is {expected}", code="NONCE_REPLAYED"
        )
    if nonce > expected or nonce >= UINT63_MAX:
        raise TransactionRejected(
            f"nonce {nonce} is ahead of the sender's next nonce {expected}", code="NONCE_GAP"
        )


def execute_transaction(state: Overlay, transaction: Transaction, context: BlockContext) -> Receipt:
    """Apply one transaction to ``state``; raises TransactionRejected (changing nothing)
    when it is not admissible, else returns its receipt."""
    method, args = _admit(state, transaction, chain_id=context.chain_id, pending_nonce=None)
    sender = transaction.sender_address
    accessors.put_nonce(state, sender, transaction.nonce + 1)
    snapshot = state.snapshot()
    try:
        accessors.require_active(state, sender, "sender")
        events = method.process(state, sender, args, context)
    except ContractError as error:
        state.revert(snapshot)
        return Receipt(success=False, code=error.code, message=error.message)
    return Receipt(success=True, events=tuple(events))


def execute_block(
    state: StateReader,
    transactions: Sequence[Transaction],
    context: BlockContext,
    *,
    skip_inadmissible: bool,
) -> BlockResult:
    """Execute ``transactions`` in order over a fresh overlay on ``state``.

    The primary building a block passes skip_inadmissible=True and gets back the
    transactions it may include; a backup checking a proposed block passes False,
    and one inadmissible transaction raises TransactionRejected.
    """
    overlay = Overlay(state)
    included: list[Transaction] = []
    receipts: list[Receipt] = []
    for transaction in transactions:
        try:
            receipt = execute_transaction(overlay, transaction, context)
        except TransactionRejected:
            if skip_inadmissible:
                continue
            raise
        included.append(transaction)
        receipts.append(receipt)
    overlay.forget_history()
    return BlockResult(tuple(included), tuple(receipts), overlay, overlay.changes())
