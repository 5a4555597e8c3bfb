"""The client API application: routes and middleware."""

from __future__ import annotations

from aiohttp import web

from node.api import accounts, admin, backup, chain, state_export, state_proofs, transactions
from node.api.errors import error_middleware
from node.api.events import EVENTS, EventHub, get_events
from node.api.keys import NODE, PROVER, SIGNATURES, STANDING
from node.api.metrics import METRICS, get_metrics
from node.api.status_page import add_status_routes
from node.client_signatures import ClientSignatures
from node.metrics import NodeMetrics
from node.peer_status import PEER_STATUS
from node.request_limits import RequestBudget, rate_limit_middleware
from node.service import Node
from node.standing import Standing
from node.state_proofs import AccountProver


def build_api(node: Node) -> web.Application:
    # Bodies are read with explicit, per-route limits (node.api.bodies); this is the outer bound.
    app = web.Application(
        middlewares=[error_middleware], client_max_size=node.config.api.request_bytes_max * 16
    )
    app[NODE] = node
    history_blocks = node.config.storage.state_history_blocks
    prover = app[PROVER] = AccountProver(node.chain, node.kv, history_blocks=history_blocks)
    app.on_cleanup.append(lambda _: prover.close())
    api = node.config.api
    signatures = ClientSignatures(burst=api.bad_signatures_burst, per_s=api.bad_signatures_per_s)
    app[SIGNATURES] = signatures
    app.on_cleanup.append(lambda _: _close(signatures))
    app.router.add_post("/v1/transactions", transactions.post_transaction)
    app.router.add_post("/v1/transactions/batch", transactions.post_transaction_batch)
    app.router.add_get("/v1/transactions/{id}", transactions.get_transaction)
    app.router.add_get("/v1/transactions/{id}/proof", chain.get_proof)
    app.router.add_get("/v1/blocks/{height}", chain.get_block)
    app.router.add_get("/v1/headers/{height}", chain.get_header)
    app.router.add_get("/v1/admin/state", state_export.get_state)
    app.router.add_get("/v1/accounts/{address}", accounts.get_account_handler)
    app.router.add_get("/v1/accounts/{address}/dvps", accounts.get_dvps_handler)
    app.router.add_get("/v1/accounts/{address}/escrows", accounts.get_escrows_handler)
    app.router.add_get("/v1/accounts/{address}/proof", state_proofs.get_account_proof_handler)
    app.router.add_get("/v1/securities/{security_id}", accounts.get_security_handler)
    app.router.add_get("/v1/supply", accounts.get_supply_handler)
    app.router.add_get("/v1/status", chain.get_status)
    app.router.add_get("/v1/evidence", chain.get_evidence)
    admin.add_admin_routes(app)
    app.router.add_get("/v1/admin/backup", backup.get_backup)
    app.router.add_get("/healthz", chain.get_healthz)
    app.router.add_get("/readyz", chain.get_readyz)
    metrics = app[METRICS] = NodeMetrics(node, signatures)
    requests = RequestBudget(burst=api.requests_burst, per_s=api.requests_per_s)
    app.middlewares.append(rate_limit_middleware(requests, metrics.api_requests_limited.inc))
    app.router.add_get("/metrics", get_metrics)
    app[EVENTS] = EventHub(node)
    app.router.add_get("/v1/events", get_events)
    add_status_routes(app, node)
    app[STANDING] = Standing(node, app[PEER_STATUS])  # reads the board the status routes poll
    return app


async def _close(signatures: ClientSignatures) -> None:
    signatures.close()
