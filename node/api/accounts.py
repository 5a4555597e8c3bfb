"""Reading accounts."""

from __future__ import annotations

from aiohttp import web

from contracts.queries import get_account
from ledger.types import ADDRESS_BYTES, Address
from node.api.keys import NODE
from node.errors import ApiError


def parse_address(text: str) -> Address:
    try:
        value = bytes.fromhex(text)
    except ValueError:
        value = b""
    if len(value) != ADDRESS_BYTES:
        raise ApiError(400, "BAD_IDENTIFIER", f"an account address is {ADDRESS_BYTES * 2} hex characters")
    return Address(value)


async def get_account_handler(request: web.Request) -> web.Response:
    node = request.app[NODE]
    address = parse_address(request.match_info["address"])
    account = get_account(node.application.committed_state, address)
    if account is None:
        raise ApiError(404, "NOT_FOUND", f"no account {address.hex()} on this chain")
    return web.json_response(account)
