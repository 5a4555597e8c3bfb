"""Every API error is ``{"error": {"code": ..., "message": ...}}`` with a 4xx (or 503) status.

Codes are stable: clients may switch on them. Statuses follow from the code.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import structlog
from aiohttp import web

from ledger.errors import LedgerError
from storage.errors import CorruptRecord

log = structlog.get_logger("hubledger.api")

STATUS_BY_CODE = {
    "NOT_FOUND": 404,
    "TOO_LARGE": 413,
    "UNSUPPORTED_MEDIA_TYPE": 415,
    "FORBIDDEN": 403,
    "UNAUTHORIZED": 401,
    "MEMPOOL_FULL": 503,
    "NOT_READY": 503,
    "TOO_MANY_BAD_SIGNATURES": 429,
    "DATABASE_CORRUPT": 503,
    "NO_QUORUM": 503,  # node/standing.py: another hub may take it
    "BEHIND": 503,  # this hub's fault, not the client's: another hub can answer
    "TOO_MANY_REQUESTS": 429,
    "BLOCK_PRUNED": 410,  # the header and certificate are kept: GET /v1/headers/{height}
    "STATE_NOT_RETAINED": 409,
}

HTTP_CODES = {404: "NOT_FOUND", 405: "METHOD_NOT_ALLOWED", 413: "TOO_LARGE"}
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def error_response(
    code: str, message: str, status: int | None = None, *, retry_after_s: int | None = None
) -> web.Response:
    headers = {} if retry_after_s is None else {"Retry-After": str(retry_after_s)}
    return web.json_response(
        {"error": {"code": code, "message": message}},
        status=status or STATUS_BY_CODE.get(code, 400),
        headers=headers,
    )


@web.middleware
async def error_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except CorruptRecord as error:  # damage found while answering: the hub's fault, said as such
        log.error("database_corrupt", path=request.path, problem=error.message)
        return error_response("DATABASE_CORRUPT", f"this hub's database is damaged: {error.message}")
    except LedgerError as error:
        status = getattr(error, "status", None)
        retry_after_s = getattr(error, "retry_after_s", None)
        response = error_response(error.code, error.message, status, retry_after_s=retry_after_s)
        if retry_after_s is not None:  # told to go away: close rather than read what it still sends
            response.force_close()
        return response
    except web.HTTPException as error:
        if error.status < 400:
            raise
        code = HTTP_CODES.get(error.status, "BAD_REQUEST")
        return error_response(code, error.reason, error.status)
