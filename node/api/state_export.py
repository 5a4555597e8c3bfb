"""``GET /v1/admin/state?height=H``: the whole state after block H, streamed, for an export of a
pruning hub's chain (hubledger_tools/audit/export.py).

A pruning hub cannot give its blocks from genesis, so an export carries headers and
certificates below its first kept block, then the state after the block before it (the
verifier checks it against that block's certified state root), then the kept blocks. The
state is rebuilt from the latest state and the kept blocks' undo records
(storage/history.py), read as of the request. It is every account's record, so it is an
operator endpoint, guarded as the backup is.

The body is JSON lines: ``{"height": H, "state_root": hex}``, then ``[key hex, value hex]``
per record in key order. ``height`` is refused as it is on every other request: 400 MALFORMED
when it is not a whole number, 503 BEHIND above this hub's latest height, 409
STATE_NOT_RETAINED below the state this hub can rebuild.
"""

from __future__ import annotations

import json

from aiohttp import web

from node.api.admin import validate_token
from node.api.heights import parse_height_parameter
from node.api.keys import NODE
from node.errors import ApiError
from node.standing import validate_min_height
from storage.history import iterate_state_at

HEIGHT_PARAMETER = "height"
LINES_PER_WRITE = 2000


async def get_state(request: web.Request) -> web.StreamResponse:
    validate_token(request)
    node = request.app[NODE]
    chain = node.chain
    latest, first = chain.latest_height(), chain.first_block_height()
    wanted = parse_height_parameter(request, HEIGHT_PARAMETER)  # 400 MALFORMED, as every height
    height = first - 1 if wanted is None else wanted
    validate_min_height(node, height)  # above the latest: 503 BEHIND, as an account's proof
    if height < first - 1:
        raise ApiError(
            409,
            "STATE_NOT_RETAINED",
            f"this hub prunes: it rebuilds the state from height {first - 1} (the first kept "
            f"block's parent) to {latest} (the latest block), not at {height}",
        )
    pairs = iterate_state_at(node.kv, height, latest)  # read as of now, before any await
    head = {"height": height, "state_root": chain.get_state_root(height).hex()}
    response = web.StreamResponse(headers={"Content-Type": "application/x-ndjson"})
    await response.prepare(request)
    lines = [json.dumps(head)]
    for key, value in pairs:
        lines.append(f'["{key.hex()}","{value.hex()}"]')
        if len(lines) >= LINES_PER_WRITE:
            await response.write(("\n".join(lines) + "\n").encode())
            lines = []
    await response.write(("\n".join(lines) + "\n").encode() if lines else b"")
    await response.write_eof()
    return response
