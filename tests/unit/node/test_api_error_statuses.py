"""Errors the API answers take their status from their code: the hub's own faults are 503."""

from __future__ import annotations

import json
from types import SimpleNamespace
from typing import Any, cast

from aiohttp import web

from node.api.errors import error_middleware
from storage.errors import CorruptRecord, DatabaseCorrupt, StorageError


async def answer(error: Exception) -> tuple[int, Any]:
    async def handler(request: web.Request) -> web.StreamResponse:
        raise error

    request = cast(web.Request, SimpleNamespace(path="/v1/accounts/00/proof"))
    response = cast(web.Response, await error_middleware(request, handler))
    assert response.text is not None
    return response.status, json.loads(response.text)


async def test_a_damaged_database_is_the_hubs_fault_not_the_clients() -> None:
    status, body = await answer(DatabaseCorrupt("the database in data/beijing is corrupt: checksum mismatch"))
    assert status == 503
    assert body["error"]["code"] == "DATABASE_CORRUPT"


async def test_other_storage_errors_keep_their_answer() -> None:
    status, body = await answer(StorageError("no block at height 9", code="UNKNOWN_HEIGHT"))
    assert (status, body["error"]["code"]) == (400, "UNKNOWN_HEIGHT")


async def test_a_damaged_record_found_while_answering_is_a_damaged_database() -> None:
    """A record that does not decode, met by any read, is the hub's damage (503), never the
    client's mistake (it once answered 400 CORRUPT_RECORD)."""
    status, body = await answer(CorruptRecord(b"Vb\x00", "it holds block 7"))
    assert (status, body["error"]["code"]) == (503, "DATABASE_CORRUPT")
    assert "damaged" in body["error"]["message"] and "it holds block 7" in body["error"]["message"]
