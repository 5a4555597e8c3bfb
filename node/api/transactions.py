"""Submitting transactions and following their status.

Submission checks, in order: that the client's address has not sent too many
bad signatures lately (if it has: 429 TOO_MANY_BAD_SIGNATURES, before anything
is read); while the node is overloaded, that the node holds a transaction with
that signature (if not: 503 BUSY, before anything is decoded); the encoding;
the signature, verified off the event loop within the address's budget
(node/client_signatures.py); then the admission rules of node/admission.py,
which ``Node.submit`` applies (chain id, already held or committed, a quorum
and not behind (node/standing.py), overload, the signature, found verified,
the nonce, the contract call). The first failure answers with its code and
changes nothing.

A transaction's status answers what this hub knows at ``at_height``:
committed (with its height and receipt), pending (held here), rejected, or
unknown (not held here and not in its chain, which any hub may say of a
transaction submitted elsewhere, and a hub behind says of one committed
after its height: ask with ``min_height``, node/api/heights.py).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from aiohttp import web

from ledger import cbor
from ledger.errors import DecodeError, LedgerError
from ledger.transaction import Transaction
from ledger.types import Hash
from node.admission import BAD_SIGNATURE_MESSAGE, SubmissionRefused, refuse_unknown_when_busy
from node.api.bodies import read_document
from node.api.heights import answer_read, begin_read
from node.api.keys import NODE, SIGNATURES, STANDING
from node.client_signatures import TooManyBadSignatures
from node.clock import now_ms
from node.errors import ApiError
from storage.errors import BlockPruned


async def post_transaction(request: web.Request) -> web.Response:
    node = request.app[NODE]
    source = request.remote or ""
    async with request.app[SIGNATURES].turn(source):
        document, as_cbor = await read_document(request, bytes_max=node.config.api.request_bytes_max)
        refuse_unknown_when_busy(node, document)
        transaction = parse_transaction(document, as_cbor)
        error = (await check_signatures(request, source, [transaction]))[0]
    if error is not None:
        raise error
    outcome = node.submit([transaction], refusal=request.app[STANDING].get_refusal())[0]
    if outcome.error is not None:
        raise outcome.error
    return web.json_response({"id": outcome.transaction_id.hex(), "status": outcome.status}, status=202)


async def post_transaction_batch(request: web.Request) -> web.Response:
    """Many signed transactions in one request; each is answered on its own."""
    node = request.app[NODE]
    limit = node.config.api.batch_transactions_max
    source = request.remote or ""
    results: list[dict[str, Any]] = []
    parsed = []
    async with request.app[SIGNATURES].turn(source):
        document, as_cbor = await read_document(request, bytes_max=node.config.api.request_bytes_max * 16)
        fields = _expect(lambda: cbor.expect_map(document, ("transactions",), "batch"))
        items = _expect(lambda: cbor.expect_list(fields["transactions"], "transactions", count_max=limit))
        for item in items:
            try:
                refuse_unknown_when_busy(node, item)
                transaction = parse_transaction(item, as_cbor)
            except LedgerError as error:
                results.append(_error(error))
                continue
            parsed.append((len(results), transaction))
            results.append({})
        errors = await check_signatures(request, source, [transaction for _, transaction in parsed])
    accepted = []
    for (position, transaction), refusal in zip(parsed, errors, strict=True):
        if refusal is None:
            accepted.append((position, transaction))
        else:
            results[position] = _error(refusal)
    refusal = request.app[STANDING].get_refusal()
    outcomes = node.submit([transaction for _, transaction in accepted], refusal=refusal)
    for (position, _), outcome in zip(accepted, outcomes, strict=True):
        if outcome.error is not None:
            results[position] = _error(outcome.error)
        else:
            results[position] = {"id": outcome.transaction_id.hex(), "status": outcome.status}
    return web.json_response({"results": results}, status=202)


async def check_signatures(
    request: web.Request, source: str, transactions: Sequence[Transaction]
) -> list[LedgerError | None]:
    """Verify off the event loop, within ``source``'s budget (node/client_signatures.py), the
    signatures the node has not verified yet: per transaction None when it goes on to the
    admission rules (which then find it verified), else the error it is answered with."""
    node = request.app[NODE]
    signatures = request.app[SIGNATURES]
    unknown = [
        (index, transaction)
        for index, transaction in enumerate(transactions)
        if transaction.id not in node.mempool and not node.application.is_verified(transaction)
    ]
    verdicts = await signatures.verify(source, [transaction for _, transaction in unknown])
    errors: list[LedgerError | None] = [None] * len(transactions)
    for (index, transaction), verdict in zip(unknown, verdicts, strict=True):
        if verdict:
            node.application.mark_verified(transaction)
        elif verdict is False:
            errors[index] = SubmissionRefused("BAD_SIGNATURE", BAD_SIGNATURE_MESSAGE)
        else:
            retry_after_ms = signatures.budget.get_retry_after_ms(source, now_ms())
            errors[index] = TooManyBadSignatures(max(1, -(-retry_after_ms // 1000)))
    return errors


def _error(error: LedgerError) -> dict[str, Any]:
    return {"error": {"code": error.code, "message": error.message}}


async def get_transaction(request: web.Request) -> web.Response:
    node = request.app[NODE]
    transaction_id = parse_hash(request.match_info["id"], "transaction id")
    height = begin_read(request)
    answer: dict[str, Any] = {"id": transaction_id.hex(), "status": "unknown"}
    try:
        record = node.chain.get_transaction(transaction_id)
    except BlockPruned as pruned:  # committed; what it did went with the block's body
        answer.update(status="committed", height=pruned.height, pruned=True)
        return answer_read(answer, height)
    pending = node.mempool.get(transaction_id)
    rejection = node.mempool.get_rejection(transaction_id)
    if record is not None:
        answer.update(
            status="committed",
            height=record.height,
            index=record.index,
            transaction=record.transaction.to_json(),
            receipt=record.receipt.to_json(),
        )
    elif pending is not None:
        answer.update(status="pending", transaction=pending.to_json())
    elif rejection is not None:
        answer.update(status="rejected", error={"code": rejection.code, "message": rejection.message})
    return answer_read(answer, height)


def parse_transaction(document: Any, as_cbor: bool) -> Transaction:
    try:
        if as_cbor:
            return Transaction.from_cbor_map(document)
        return Transaction.from_json(document)
    except DecodeError as error:
        raise ApiError(400, error.code, f"not a valid transaction: {error.message}") from None


def parse_hash(text: str, what: str) -> Hash:
    try:
        value = bytes.fromhex(text)
    except ValueError:
        value = b""
    if len(value) != 32:
        raise ApiError(400, "BAD_IDENTIFIER", f"{what} must be 64 hex characters")
    return Hash(value)


def _expect(check: Any) -> Any:
    try:
        return check()
    except DecodeError as error:
        raise ApiError(400, "MALFORMED", error.message) from None
