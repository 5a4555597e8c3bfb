"""The height a read reflects, and a client's demand for at least a height.

Every read of state (accounts, DvPs, escrows, securities, supply, a
transaction's status) carries ``at_height``: the height of the latest block
this hub had committed when it answered, so that a client can tell an old
answer from a new one. A client that has seen a block (its own transaction
committed at height 50, say) asks with the query parameter ``min_height=50``;
a hub below that answers 503 BEHIND instead of an answer from before it
(node/standing.py). A query parameter rather than a header: a signed read
(ledger/read_auth.py) signs the path with its query, so the demand cannot be
stripped on the way, and it shows in a URL a person pastes.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from node.api.keys import NODE
from node.errors import ApiError
from node.standing import validate_min_height

MIN_HEIGHT_PARAMETER = "min_height"
HEIGHT_DIGITS_MAX = 19  # heights are below 2^63


def parse_min_height(request: web.Request) -> int | None:
    return parse_height_parameter(request, MIN_HEIGHT_PARAMETER)


def parse_height_parameter(request: web.Request, name: str) -> int | None:
    """The block height a query parameter names, or None when the request has none."""
    text = request.query.get(name)
    if text is None:
        return None
    if not text.isdigit() or len(text) > HEIGHT_DIGITS_MAX or not text.isascii():
        raise ApiError(400, "MALFORMED", f"{name} must be a whole number (a block height)")
    return int(text)


def begin_read(request: web.Request) -> int:
    """The height this read answers at; raises BEHIND when the request asks for more."""
    node = request.app[NODE]
    validate_min_height(node, parse_min_height(request))
    return node.chain.latest_height()


def answer_read(document: dict[str, Any], height: int) -> web.Response:
    return web.json_response({**document, "at_height": height})
