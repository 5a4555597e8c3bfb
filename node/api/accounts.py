"""Reading accounts: private data, served only to those entitled to see it.

An account's details are served to requests signed (ledger/read_auth.py) by the
account itself, its sponsoring bank, the central bank or a regulator.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from contracts.queries import (
    get_account,
    get_locked_in_escrow,
    get_security,
    get_total_supply,
    list_open_dvps,
    list_open_escrows,
)
from ledger.read_auth import ReadAuthError, verify_read
from ledger.types import ADDRESS_BYTES, Address
from node.api.heights import answer_read, begin_read
from node.api.keys import NODE, STANDING
from node.clock import now_ms
from node.errors import ApiError
from node.service import Node

SUPERVISOR_ROLES = ("central_bank", "regulator")


def parse_address(text: str) -> Address:
    try:
        value = bytes.fromhex(text)
    except ValueError:
        value = b""
    if len(value) != ADDRESS_BYTES:
        raise ApiError(400, "BAD_IDENTIFIER", f"an account address is {ADDRESS_BYTES * 2} hex characters")
    return Address(value)


def authorize_read(request: web.Request, node: Node, account: dict[str, Any]) -> None:
    """Raise ApiError unless the request is signed by someone entitled to read ``account``."""
    try:
        reader = verify_read(
            request.headers,
            chain_id=node.genesis.chain_id,
            method=request.method,
            path=request.path_qs,
            now_ms=now_ms(),
        )
    except ReadAuthError as error:
        raise ApiError(401, error.code, error.message) from None
    if reader is None:
        raise ApiError(
            401,
            "SIGNATURE_REQUIRED",
            "account data is private: sign the request as the account, its bank, the central bank "
            "or a regulator (see the signed-read scheme in the API reference)",
        )
    reader_hex = reader.address.hex()
    if reader_hex in (account["address"], account.get("sponsor")):
        return
    reader_account = get_account(node.application.committed_state, reader.address)
    if reader_account is not None and reader_account["role"] in SUPERVISOR_ROLES:
        return
    raise ApiError(
        403, "FORBIDDEN", f"account {reader_hex} may not read account {account['address']}"
    )


def get_readable_account(
    request: web.Request, *, nonce_question: bool = False
) -> tuple[Node, Address, dict[str, Any], int]:
    """The account named in the path, once the request proved it may read it, and the height
    the answer reflects (BEHIND when the request asks for a higher one). A ``nonce_question``
    is refused by a hub without a quorum or behind (node/standing.py) rather than answered
    with a nonce that may be used already, or a 404 for an account registered since."""
    node = request.app[NODE]
    address = parse_address(request.match_info["address"])
    height = begin_read(request)
    if nonce_question:
        request.app[STANDING].validate()
    account = get_account(node.application.committed_state, address)
    if account is None:
        raise ApiError(404, "NOT_FOUND", f"no account {address.hex()} on this chain")
    authorize_read(request, node, account)
    return node, address, account, height


async def get_account_handler(request: web.Request) -> web.Response:
    """An account with its nonces."""
    node, address, account, height = get_readable_account(request, nonce_question=True)
    account["pending_nonce"] = node.mempool.get_pending_nonce(address, int(account["nonce"]))
    return answer_read(account, height)


async def get_dvps_handler(request: web.Request) -> web.Response:
    """Open delivery-versus-payment proposals the account is a party to."""
    node, address, _, height = get_readable_account(request)
    return answer_read({"dvps": list_open_dvps(node.application.committed_state, address)}, height)


async def get_escrows_handler(request: web.Request) -> web.Response:
    """Open escrows the account pays into, receives from or arbitrates."""
    node, address, _, height = get_readable_account(request)
    return answer_read({"escrows": list_open_escrows(node.application.committed_state, address)}, height)


async def get_security_handler(request: web.Request) -> web.Response:
    node = request.app[NODE]
    security_id = request.match_info["security_id"]
    height = begin_read(request)
    security = get_security(node.application.committed_state, security_id)
    if security is None:
        raise ApiError(404, "NOT_FOUND", f"no security {security_id!r} on this chain")
    return answer_read(security, height)


async def get_supply_handler(request: web.Request) -> web.Response:
    height = begin_read(request)
    state = request.app[NODE].application.committed_state
    return answer_read(
        {"total_supply": get_total_supply(state), "locked_in_escrow": get_locked_in_escrow(state)}, height
    )
