"""Reading request bodies: size-limited before reading, JSON or canonical CBOR."""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web

from ledger import cbor
from ledger.errors import DecodeError
from node.errors import ApiError

CBOR_TYPE = "application/cbor"
JSON_TYPE = "application/json"


async def read_body(request: web.Request, *, bytes_max: int) -> bytes:
    if request.content_length is not None and request.content_length > bytes_max:
        raise ApiError(413, "TOO_LARGE", f"request body is over the limit of {bytes_max} bytes")
    chunks, size = [], 0
    while chunk := await request.content.read(64 * 1024):  # read() may return less than asked
        size += len(chunk)
        if size > bytes_max:
            raise ApiError(413, "TOO_LARGE", f"request body is over the limit of {bytes_max} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


def is_cbor(request: web.Request) -> bool:
    return request.content_type == CBOR_TYPE


async def read_document(request: web.Request, *, bytes_max: int) -> tuple[Any, bool]:
    """The decoded body and whether it came as CBOR; raises ApiError with a stable code."""
    if request.content_type not in (CBOR_TYPE, JSON_TYPE, "application/octet-stream", ""):
        raise ApiError(
            415, "UNSUPPORTED_MEDIA_TYPE", f"send {JSON_TYPE} or {CBOR_TYPE}, not {request.content_type}"
        )
    data = await read_body(request, bytes_max=bytes_max)
    if is_cbor(request):
        try:
            return cbor.decode(data, bytes_max=bytes_max), True
        except DecodeError as error:
            raise ApiError(400, "MALFORMED_CBOR", f"body is not canonical CBOR: {error.message}") from None
    try:
        return json.loads(data, parse_float=_refuse_float, parse_constant=_refuse_float), False
    except (ValueError, UnicodeDecodeError) as error:
        raise ApiError(400, "MALFORMED_JSON", f"body is not valid JSON: {error}") from None


def _refuse_float(text: str) -> Any:
    raise ValueError(f"numbers must be integers (amounts are in fen), not {text}")
