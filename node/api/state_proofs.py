"""GET /v1/accounts/{address}/proof: an account's records with a state proof an auditor checks offline.

A proof shows exactly what reading the account shows its reader, so it is
served by the same path (accounts.get_readable_account): the same signed
read, the same readers (the account, its bank, the central bank, a
regulator), the same 404 for an account this chain does not hold, the same
``min_height`` (503 BEHIND when this hub is below it).

The node keeps the state tree of its latest block only, so a proof is of the
latest height. ``height=H`` asks for exactly H: a hub below H answers 503
BEHIND (another hub may be there), a hub past it 409 STATE_NOT_RETAINED (ask
again without ``height``; the answer's ``height`` says which one it is).
"""

from __future__ import annotations

from aiohttp import web

from node.api.accounts import get_readable_account
from node.api.heights import parse_height_parameter
from node.errors import ApiError
from node.standing import validate_min_height
from node.state_proofs import build_account_proof

HEIGHT_PARAMETER = "height"


async def get_account_proof_handler(request: web.Request) -> web.Response:
    """The proof document (node/state_proofs.py), built without awaiting: one height throughout."""
    node, address, _, height = get_readable_account(request)
    wanted = parse_height_parameter(request, HEIGHT_PARAMETER)
    if wanted is not None:
        validate_min_height(node, wanted)
        if wanted < height:
            raise ApiError(
                409,
                "STATE_NOT_RETAINED",
                f"this hub keeps the state of its latest block ({height}) only, not of block {wanted}: "
                "ask without height for a proof at the latest height",
            )
    document = build_account_proof(node.chain, address)
    if document is None:
        raise ApiError(503, "NOT_READY", "no block is committed yet: a proof needs a certified header")
    return web.json_response(document)
