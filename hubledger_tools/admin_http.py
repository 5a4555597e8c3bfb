"""Operator endpoints of a hub (``/v1/admin/...``), asked for with the admin token and, over
TLS, the hub operator's client certificate: one way to open them and to say why a hub refused."""

from __future__ import annotations

import ssl
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import aiohttp

OPERATOR_CERTIFICATE_HINT = (
    "; give that hub's operator certificate with --cert (tls/clients/operator-<hub>.crt of the network)"
)


class AdminRefused(Exception):
    """The hub answered an operator request with an error; the message says which and why."""


@asynccontextmanager
async def open_admin_stream(
    url: str, path: str, token: str, context: ssl.SSLContext
) -> AsyncIterator[aiohttp.ClientResponse]:
    """The hub's answer to ``GET path``, to be read as a stream; raises AdminRefused unless 200."""
    timeout = aiohttp.ClientTimeout(total=None, sock_connect=10, sock_read=60)
    connector = aiohttp.TCPConnector(ssl=context)
    async with aiohttp.ClientSession(timeout=timeout, connector=connector) as session, session.get(
        url.rstrip("/") + path, headers={"Authorization": f"Bearer {token}"}
    ) as response:
        if response.status != 200:
            raise AdminRefused(await _describe_refusal(response, path))
        yield response


async def _describe_refusal(response: aiohttp.ClientResponse, path: str) -> str:
    try:
        error = (await response.json())["error"]
        hint = OPERATOR_CERTIFICATE_HINT if error["code"] == "OPERATOR_CERTIFICATE_REQUIRED" else ""
        return f"the hub refused GET {path} ({response.status} {error['code']}): {error['message']}{hint}"
    except (ValueError, KeyError, TypeError, aiohttp.ContentTypeError):
        return f"the hub answered {response.status} to GET {path}: is --node its client API?"
