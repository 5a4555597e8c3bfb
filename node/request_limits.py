"""A budget of API requests per client address: past it, 429 TOO_MANY_REQUESTS with Retry-After.

Per client *address* rather than per client certificate: every client of
the API has an address, while a client certificate is optional outside the
admin endpoints, and an address cannot be changed by the client without a
new connection from elsewhere. (Behind a proxy every client shares the
proxy's address: raise the budget there, or limit at the proxy.)

Each address has a bucket of ``burst`` requests refilled at ``per_s`` a
second; a request takes one, and with none left is answered 429 before its
body is read. Only addresses that have spent something are remembered, at
most ``addresses_max``, the longest untouched forgotten first, so a crowd of
addresses costs bounded memory. ``RequestBudget`` is pure (time is an
argument); ``rate_limit_middleware`` applies it to every route.
"""

from __future__ import annotations

import math
from collections import OrderedDict
from collections.abc import Awaitable, Callable

from aiohttp import web
from aiohttp.typedefs import Middleware

from node.clock import monotonic_ms
from node.errors import ApiError

ADDRESSES_MAX = 10_000
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class TooManyRequests(ApiError):
    """Raised when a client address has spent its budget of requests; ``retry_after_s`` says when
    it may ask again (the Retry-After header)."""

    def __init__(self, retry_after_s: int) -> None:
        super().__init__(
            429,
            "TOO_MANY_REQUESTS",
            f"this client address sent more requests than the hub's limit; retry after {retry_after_s} s",
        )
        self.retry_after_s = retry_after_s


class RequestBudget:
    """Requests each client address may still send (see the module's docstring)."""

    def __init__(self, *, burst: int, per_s: int, addresses_max: int = ADDRESSES_MAX) -> None:
        if burst < 1 or per_s < 1 or addresses_max < 1:
            raise ValueError("burst, per_s and addresses_max must be at least 1")
        self._burst = burst
        self._per_s = per_s
        self._addresses_max = addresses_max
        self._buckets: OrderedDict[str, tuple[float, int]] = OrderedDict()  # address -> (tokens, at_ms)

    def take(self, address: str, now_ms: int) -> int:
        """Spend one request of ``address``: 0 when allowed, else milliseconds until one is."""
        tokens, at_ms = self._buckets.pop(address, (float(self._burst), now_ms))
        tokens = min(float(self._burst), tokens + max(0, now_ms - at_ms) * self._per_s / 1000)
        if tokens < 1:
            self._remember(address, tokens, now_ms)
            return math.ceil((1 - tokens) * 1000 / self._per_s)
        self._remember(address, tokens - 1, now_ms)
        return 0

    def _remember(self, address: str, tokens: float, now_ms: int) -> None:
        self._buckets[address] = (tokens, now_ms)
        while len(self._buckets) > self._addresses_max:
            self._buckets.popitem(last=False)

    @property
    def addresses(self) -> int:
        return len(self._buckets)


def rate_limit_middleware(budget: RequestBudget, on_refused: Callable[[], None]) -> Middleware:
    """Answer 429 TOO_MANY_REQUESTS to an address past its budget, before anything else is done."""

    @web.middleware
    async def limit(request: web.Request, handler: Handler) -> web.StreamResponse:
        wait_ms = budget.take(request.remote or "unknown", monotonic_ms())
        if wait_ms:
            on_refused()
            raise TooManyRequests(max(1, math.ceil(wait_ms / 1000)))
        return await handler(request)

    return limit
