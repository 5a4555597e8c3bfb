"""Submitting transactions and following their status.

Submission checks, in order: while the node is overloaded, that the node
holds a transaction with that signature (if not: 503 BUSY, before anything is
decoded); the encoding, the chain id, whether the transaction is already held
or committed (then answered with that status), that the node is not
overloaded (503 BUSY), the signature, the nonce, and that the contract call is
admissible for the sender's account. The first failure answers with its code
and changes nothing.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from contracts.execution import validate_admissible
from ledger import cbor
from ledger.errors import DecodeError, LedgerError
from ledger.transaction import Transaction
from ledger.types import Hash
from node.api.bodies import read_document
from node.api.keys import NODE
from node.errors import ApiError
from node.service import Node


async def post_transaction(request: web.Request) -> web.Response:
    node = request.app[NODE]
    document, as_cbor = await read_document(request, bytes_max=node.config.api.request_bytes_max)
    refuse_unknown_when_busy(node, document)
    transaction = parse_transaction(document, as_cbor)
    validate_transaction(node, transaction)
    outcome = node.submit([transaction])[0]
    return web.json_response({"id": outcome.transaction_id.hex(), "status": outcome.status}, status=202)


async def post_transaction_batch(request: web.Request) -> web.Response:
    """Many signed transactions in one request; each is answered on its own."""
    node = request.app[NODE]
    limit = node.config.api.batch_transactions_max
    document, as_cbor = await read_document(request, bytes_max=node.config.api.request_bytes_max * 16)
    fields = _expect(lambda: cbor.expect_map(document, ("transactions",), "batch"))
    items = _expect(lambda: cbor.expect_list(fields["transactions"], "transactions", count_max=limit))
    results: list[dict[str, Any]] = []
    accepted = []
    for item in items:
        try:
            refuse_unknown_when_busy(node, item)
            transaction = parse_transaction(item, as_cbor)
            validate_transaction(node, transaction)
        except LedgerError as error:
            results.append({"error": {"code": error.code, "message": error.message}})
            continue
        accepted.append((len(results), transaction))
        results.append({})
    outcomes = node.submit([transaction for _, transaction in accepted])
    for (position, _), outcome in zip(accepted, outcomes, strict=True):
        results[position] = {"id": outcome.transaction_id.hex(), "status": outcome.status}
    return web.json_response({"results": results}, status=202)


async def get_transaction(request: web.Request) -> web.Response:
    node = request.app[NODE]
    transaction_id = parse_hash(request.match_info["id"], "transaction id")
    record = node.chain.get_transaction(transaction_id)
    if record is not None:
        return web.json_response(
            {
                "id": transaction_id.hex(),
                "status": "committed",
                "height": record.height,
                "index": record.index,
                "transaction": record.transaction.to_json(),
                "receipt": record.receipt.to_json(),
            }
        )
    pending = node.mempool.get(transaction_id)
    if pending is not None:
        return web.json_response(
            {"id": transaction_id.hex(), "status": "pending", "transaction": pending.to_json()}
        )
    rejection = node.mempool.get_rejection(transaction_id)
    if rejection is not None:
        return web.json_response(
            {
                "id": transaction_id.hex(),
                "status": "rejected",
                "error": {"code": rejection.code, "message": rejection.message},
            }
        )
    raise ApiError(404, "NOT_FOUND", f"no transaction {transaction_id.hex()} is known to this node")


def parse_transaction(document: Any, as_cbor: bool) -> Transaction:
    try:
        if as_cbor:
            return Transaction.from_cbor_map(document)
        return Transaction.from_json(document)
    except DecodeError as error:
        raise ApiError(400, error.code, f"not a valid transaction: {error.message}") from None


def refuse_unknown_when_busy(node: Node, item: Any) -> None:
    """Refuse BUSY, before decoding it, a submission the node is busy for and does not hold.

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
    raise ApiError(
        503,
        "BUSY",
        f"this node holds more waiting transactions than it can commit in {backlog_max_ms} ms; "
        "nothing was kept: retry shortly or submit to another hub",
    )


def validate_transaction(node: Node, transaction: Transaction) -> None:
    if transaction.chain_id != node.genesis.chain_id:
        raise ApiError(
            400,
            "WRONG_CHAIN",
            f"transaction is for chain {transaction.chain_id!r}; this network is {node.genesis.chain_id!r}",
        )
    # The id covers the signature: a transaction already held or committed was verified then.
    if transaction.id in node.mempool or node.chain.has_transaction(transaction.id):
        return  # resubmission is idempotent: answered with the status it already has
    # Before the signature check, the costliest: an overloaded node that verified what it then
    # refused spent its time on clients' retries instead of on committing.
    refuse_unknown_when_busy(node, None)
    if not node.application.has_valid_signature(transaction):
        raise ApiError(400, "BAD_SIGNATURE", "the signature does not verify against the sender's key")
    node.mempool.validate_nonce(transaction, node.get_committed_nonce(transaction.sender_address))
    # The mempool owns nonce order at admission (a window, since clients may use several
    # hubs); the contracts check everything else about the call.
    validate_admissible(
        node.application.committed_state,
        transaction,
        chain_id=node.genesis.chain_id,
        pending_nonce=transaction.nonce,
    )


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
