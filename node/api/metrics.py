"""GET /metrics: the node's Prometheus registry in the text exposition format."""

from __future__ import annotations

from aiohttp import web

from node.metrics import CONTENT_TYPE, NodeMetrics

METRICS = web.AppKey("metrics", NodeMetrics)


async def get_metrics(request: web.Request) -> web.Response:
    body = request.app[METRICS].render()
    return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE})
