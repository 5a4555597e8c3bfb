"""The observer's client API: the hubs' read routes over its own verified chain, and nothing to write.

Blocks, transactions with their receipts and proofs, accounts (signed reads
and the privacy rules as on a hub), securities, supply and the event stream
are the hubs' own handlers (node/api/), served from the observer's LevelDB.
Submissions are answered 403 OBSERVER_READ_ONLY. ``/v1/status``, the status
page ``/``, ``/metrics`` and ``/readyz`` are the observer's own: they show
each hub as the observer sees it and every tamper alert.
"""

from __future__ import annotations

import html
from collections.abc import Iterator
from typing import Any, cast

from aiohttp import web
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from node.api import accounts, chain, transactions
from node.api.errors import error_middleware
from node.api.events import EVENTS, EventHub, get_events
from node.api.heights import answer_read
from node.api.keys import NODE
from node.clock import now_ms
from node.errors import ApiError
from node.metrics import CONTENT_TYPE
from node.observer.service import ObserverNode
from node.service import Node

OBSERVER = web.AppKey("observer", ObserverNode)
REGISTRY = web.AppKey("registry", CollectorRegistry)
READ_ONLY_MESSAGE = (
    "this node is an observer: it verifies the chain and serves reads, and takes no transactions; "
    "submit them to a hub's API"
)


def build_observer_api(observer: ObserverNode) -> web.Application:
    app = web.Application(
        middlewares=[error_middleware], client_max_size=observer.config.api.request_bytes_max
    )
    app[OBSERVER] = observer
    # The hubs' read handlers use only what ObserverNode names as Node does (node/observer/service.py).
    app[NODE] = cast(Node, observer)
    app.router.add_post("/v1/transactions", refuse_submission)
    app.router.add_post("/v1/transactions/batch", refuse_submission)
    app.router.add_get("/v1/transactions/{id}", transactions.get_transaction)
    app.router.add_get("/v1/transactions/{id}/proof", chain.get_proof)
    app.router.add_get("/v1/blocks/{height}", chain.get_block)
    app.router.add_get("/v1/accounts/{address}", get_account)
    app.router.add_get("/v1/accounts/{address}/dvps", accounts.get_dvps_handler)
    app.router.add_get("/v1/accounts/{address}/escrows", accounts.get_escrows_handler)
    app.router.add_get("/v1/securities/{security_id}", accounts.get_security_handler)
    app.router.add_get("/v1/supply", accounts.get_supply_handler)
    app[EVENTS] = EventHub(cast(Node, observer))
    app.router.add_get("/v1/events", get_events)
    app.router.add_get("/v1/status", get_status)
    app.router.add_get("/", get_page)
    app.router.add_get("/healthz", chain.get_healthz)
    app.router.add_get("/readyz", get_readyz)
    registry = app[REGISTRY] = CollectorRegistry(auto_describe=False)
    registry.register(ObserverCollector(observer))
    app.router.add_get("/metrics", get_metrics)
    return app


async def refuse_submission(request: web.Request) -> web.Response:
    raise ApiError(403, "OBSERVER_READ_ONLY", READ_ONLY_MESSAGE)


async def get_account(request: web.Request) -> web.Response:
    """An account as a hub shows it, less the pending nonce: nothing is pending on an observer."""
    _, _, account, height = accounts.get_readable_account(request)
    return answer_read(account, height)


def compute_observer_status(observer: ObserverNode) -> dict[str, Any]:
    now = now_ms()
    follower = observer.follower
    hubs = [] if follower is None else list(follower.hubs.values())
    alerts = observer.alerts
    return {
        "chain_id": observer.genesis.chain_id,
        "node": observer.config.node.name,
        "role": "observer",
        "height": observer.chain.latest_height(),
        "last_block_hash": observer.chain.get_latest_hash().hex(),
        "hubs": [hub.to_json(at_ms=now, alerts=alerts.count_for(hub.name)) for hub in hubs],
        "alerts": {"count": alerts.total, "recent": [alert.to_json() for alert in alerts.recent]},
    }


async def get_status(request: web.Request) -> web.Response:
    return web.json_response(compute_observer_status(request.app[OBSERVER]))


async def get_readyz(request: web.Request) -> web.Response:
    """Ready once the observer's height reaches what the hubs that answered lately report."""
    observer = request.app[OBSERVER]
    reason = "not started" if observer.follower is None else observer.follower.is_caught_up()
    if reason is not None:
        raise ApiError(503, "NOT_READY", reason)
    return web.json_response({"status": "ready", "height": observer.chain.latest_height()})


async def get_metrics(request: web.Request) -> web.Response:
    return web.Response(body=generate_latest(request.app[REGISTRY]), headers={"Content-Type": CONTENT_TYPE})


class ObserverCollector(Collector):
    """The observer's numbers, read at every scrape."""

    def __init__(self, observer: ObserverNode) -> None:
        self._observer = observer

    def collect(self) -> Iterator[Metric]:
        observer = self._observer
        yield GaugeMetricFamily(
            "hubledger_chain_height",
            "Height of the latest verified block.",
            value=observer.chain.latest_height(),
        )
        invalid = CounterMetricFamily(
            "hubledger_observer_invalid_answers",
            "Answers of a hub that did not verify (a tamper alert), by hub and reason.",
            labels=["hub", "reason"],
        )
        for (hub, reason), count in sorted(observer.alerts.counts.items()):
            invalid.add_metric([hub, reason], count)
        yield invalid
        if observer.follower is None:
            return
        now = now_ms()
        heights = GaugeMetricFamily(
            "hubledger_observer_hub_height", "Highest verified block each hub served.", labels=["hub"]
        )
        reachable = GaugeMetricFamily(
            "hubledger_observer_hub_reachable", "1 when the hub answered lately.", labels=["hub"]
        )
        for state in observer.follower.hubs.values():
            heights.add_metric([state.name], state.height)
            reachable.add_metric([state.name], int(state.to_json(at_ms=now, alerts=0)["reachable"]))
        yield heights
        yield reachable


async def get_page(request: web.Request) -> web.Response:
    return web.Response(
        text=render_page(compute_observer_status(request.app[OBSERVER])),
        content_type="text/html",
        charset="utf-8",
    )


def render_page(status: dict[str, Any]) -> str:
    """The status page: each hub as the observer sees it, then the tamper alerts, newest first."""
    hub_rows = "".join(
        f'<tr class="hub" data-hub="{html.escape(hub["name"])}"><td>{html.escape(hub["name"])}</td>'
        f"<td>{hub['height']}</td><td>{'yes' if hub['reachable'] else 'no'}</td>"
        f'<td class="alerts">{hub["alerts"]}</td><td>{html.escape(hub["problem"])}</td></tr>'
        for hub in status["hubs"]
    )
    alert_rows = "".join(
        f'<tr class="alert"><td>{html.escape(alert["hub"])}</td><td>{html.escape(alert["reason"])}</td>'
        f"<td>{alert['height']}</td><td>{html.escape(alert['detail'])}</td></tr>"
        for alert in status["alerts"]["recent"]
    )
    count = status["alerts"]["count"]
    banner = (
        f'<p class="tamper">TAMPER ALERT: {count} answer(s) from hubs did not verify</p>'
        if count
        else '<p class="ok">Every answer from every hub verified.</p>'
    )
    return (
        '<!doctype html><html><head><meta charset="utf-8"><meta http-equiv="refresh" content="2">'
        f"<title>HubLedger observer {html.escape(status['node'])}</title></head><body>"
        f"<h1>Observer {html.escape(status['node'])} of {html.escape(status['chain_id'])}</h1>"
        f'<p>Verified height <span class="height">{status["height"]}</span></p>{banner}'
        "<h2>Hubs</h2><table><tr><th>hub</th><th>height served</th><th>reachable</th><th>alerts</th>"
        f"<th>problem</th></tr>{hub_rows}</table>"
        "<h2>Tamper alerts</h2><table><tr><th>hub</th><th>reason</th><th>height</th><th>detail</th></tr>"
        f"{alert_rows}</table></body></html>"
    )
