"""Reading request bodies: size-limited before reading, JSON or canonical CBOR, depth-limited.

Every parser here is total: whatever the bytes, the answer is a document or an
ApiError with a stable code, never an exception the server turns into a 500.
JSON nesting is limited as CBOR's is (ledger.cbor.DEPTH_MAX): a body nested
100,000 deep would otherwise exhaust the parser's recursion.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from aiohttp import web

from ledger import cbor
from ledger.errors import DecodeError
from node.errors import ApiError

CBOR_TYPE = "application/cbor"
JSON_TYPE = "application/json"
# A JSON document wraps what CBOR carries (a batch wraps transactions) in a few more levels.
JSON_DEPTH_MAX = cbor.DEPTH_MAX + 4


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
        document = json.loads(data, parse_float=_refuse_float, parse_constant=_refuse_float)
    except (ValueError, UnicodeDecodeError) as error:
        raise ApiError(400, "MALFORMED_JSON", f"body is not valid JSON: {error}") from None
    except RecursionError:
        raise _too_deep() from None
    if not is_within_depth(document, JSON_DEPTH_MAX):
        raise _too_deep()
    return document, False


def is_within_depth(document: Any, depth_max: int) -> bool:
    """Whether no list or object in ``document`` lies more than ``depth_max`` levels deep
    (a scalar is at depth 0); walks without recursion, so any depth is answered."""
    level: list[Any] = [document]
    for _ in range(depth_max):
        containers = [item for item in level if isinstance(item, (list, dict))]
        if not containers:
            return True
        level = [child for item in containers for child in _children(item)]
    return not any(isinstance(item, (list, dict)) for item in level)


def _children(container: list[Any] | dict[str, Any]) -> Iterable[Any]:
    return container.values() if isinstance(container, dict) else container


def _too_deep() -> ApiError:
    return ApiError(400, "TOO_DEEP", f"body is nested deeper than {JSON_DEPTH_MAX} levels")


def _refuse_float(text: str) -> Any:
    raise ValueError(f"numbers must be integers (amounts are in fen), not {text}")
