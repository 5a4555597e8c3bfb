"""GET /v1/accounts/{address}/proof: an account's records with a state proof an auditor checks offline.

A proof shows exactly what reading the account shows its reader, so it is
served by the same path (accounts.get_readable_account): the same signed
read, the same readers (the account, its bank, the central bank, a
regulator), the same 404 for an account this chain does not hold, the same
``min_height`` (503 BEHIND when this hub is below it).

Without ``height`` the proof is of the latest height. ``height=H`` asks for the
state after block H: a hub below H answers 503 BEHIND (another hub may be
there); a hub past it rebuilds that state (node/state_proofs.py) when H is no
more than ``[storage] state_history_blocks`` below its latest and it keeps
the undo records, answers 409 STATE_NOT_RETAINED naming the heights it can
prove when not, and 503 BUSY while it rebuilds another or rests after one.
An account registered after H is proven absent.
"""

from __future__ import annotations

from aiohttp import web

from node.api.accounts import get_readable_account
from node.api.heights import parse_height_parameter
from node.api.keys import PROVER
from node.errors import ApiError
from node.standing import validate_min_height
from storage.errors import StorageError

HEIGHT_PARAMETER = "height"


async def get_account_proof_handler(request: web.Request) -> web.Response:
    """The proof document (node/state_proofs.py)."""
    node, address, _, _ = get_readable_account(request)
    wanted = parse_height_parameter(request, HEIGHT_PARAMETER)
    if wanted is not None:
        validate_min_height(node, wanted)
        if wanted == 0:
            raise ApiError(
                400,
                "MALFORMED",
                "height must be at least 1: the genesis state has no certified header "
                "(check it against genesis itself)",
            )
    try:
        document = await request.app[PROVER].prove(address, wanted)
    except StorageError as error:
        if error.code != "STATE_NOT_RETAINED":
            raise
        first, latest = request.app[PROVER].first_provable_height(), node.chain.latest_height()
        raise ApiError(
            409,
            "STATE_NOT_RETAINED",
            f"this hub proves the state of heights {first} to {latest} only, not of block {wanted} "
            f"({error.message}; [storage] state_history_blocks): ask a hub that keeps more",
        ) from None
    if document is None:
        raise ApiError(503, "NOT_READY", "no block is committed yet: a proof needs a certified header")
    return web.json_response(document)
