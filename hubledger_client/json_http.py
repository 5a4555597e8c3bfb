"""One blocking JSON request to a node's API, for the tools that drive local networks.

The chaos runner and the integration tests both ask real nodes over HTTP and
want the status and the decoded answer, errors included, without an event loop.
"""

from __future__ import annotations

import json
import ssl
import urllib.error
import urllib.request
from typing import Any

from hubledger_client.tls import make_default_context


def http_json(
    url: str,
    body: Any = None,
    *,
    method: str | None = None,
    headers: dict[str, str] | None = None,
    timeout_s: float = 5.0,
    context: ssl.SSLContext | None = None,
) -> tuple[int, Any]:
    """(status, decoded JSON answer); POSTs ``body`` as JSON when given. Raises OSError when
    nothing answers. An https URL is checked against ``context``, by default the network CA
    that hubledger_client.tls finds."""
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(
        url, data=data, method=method, headers={"Content-Type": "application/json", **(headers or {})}
    )
    try:
        if context is None and url.startswith("https:"):
            context = make_default_context()
        with urllib.request.urlopen(request, timeout=timeout_s, context=context) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"null")
