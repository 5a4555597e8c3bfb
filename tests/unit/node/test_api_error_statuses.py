"""Errors the API answers take their status from their code: the hub's own faults are 503."""

from __future__ import annotations

import json
from typing import Any, cast

from aiohttp import web

from node.api.errors import error_middleware
from storage.errors import DatabaseCorrupt, StorageError


async def answer(error: Exception) -> tuple[int, Any]:
    async def handler(request: web.Request) -> web.StreamResponse:
        raise error

    response = cast(web.Response, await error_middleware(cast(web.Request, None), handler))
    assert response.text is not None
    return response.status, json.loads(response.text)


async def test_a_damaged_database_is_the_hubs_fault_not_the_clients() -> None:
    status, body = await answer(DatabaseCorrupt("the database in data/beijing is corrupt: checksum mismatch"))
    assert status == 503
    assert body["error"]["code"] == "DATABASE_CORRUPT"


async def test_other_storage_errors_keep_their_answer() -> None:
    status, body = await answer(StorageError("no block at height 9", code="UNKNOWN_HEIGHT"))
    assert (status, body["error"]["code"]) == (400, "UNKNOWN_HEIGHT")
