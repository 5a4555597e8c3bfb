"""``GET /v1/admin/backup``: a consistent copy of this running node's database, streamed.

The body is a backup in the format of ``storage.backup`` as of the moment the
request arrived (one LevelDB snapshot), however many blocks commit while it
streams; ``hubledger backup`` writes it to a file and ``hubledger restore``
turns it back into a data directory. It carries the whole database, so it is
an operator endpoint: ``Authorization: Bearer <[admin] token>`` and, over TLS, the client
certificate of this hub's operator (``validate_token`` in node/api/admin.py).
"""

from __future__ import annotations

from aiohttp import web

from node.api.admin import validate_token
from node.api.keys import NODE
from storage.backup import stream_backup


async def get_backup(request: web.Request) -> web.StreamResponse:
    validate_token(request)
    node = request.app[NODE]
    chunks = stream_backup(node.kv)  # the snapshot is taken here, before the first byte is sent
    response = web.StreamResponse(
        headers={
            "Content-Type": "application/octet-stream",
            "Content-Disposition": f'attachment; filename="{node.config.node.name}.hlbackup"',
            "X-Hubledger-Height": str(node.chain.latest_height()),
        }
    )
    await response.prepare(request)
    for chunk in chunks:
        # Each chunk is about a MiB of pairs read between turns of the event loop; a slow
        # reader holds the snapshot (and old table files) open, nothing else.
        await response.write(chunk)
    await response.write_eof()
    return response
