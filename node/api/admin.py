"""Operator endpoint for testers: link fault rules of this node, changed at run time.

``PUT /v1/admin/link-rules`` with ``{"rules": {"<peer name>": {"partitioned": true}}}``
(fields of ``p2p.faults.LinkRule``: drop_fraction, delay_ms, partitioned,
direction) replaces every rule of this node; ``DELETE`` removes them all (heal);
``GET`` shows them. Each request carries ``Authorization: Bearer <[admin] token>``
AND, over TLS, comes with the client certificate of this hub's operator
(``hubledger://operator/<hub>``, issued by netgen as tls/clients/operator-<hub>):
a leaked token alone does not open it, nor does a certificate alone. With no
token configured the endpoint is closed: every request answers 403. Over plain
HTTP (``[tls] api_plaintext``) the token alone guards it, as the start-up warning says.
"""

from __future__ import annotations

import hmac
import ssl
from typing import Any

from aiohttp import web
from cryptography import x509

from ledger.tls_identity import Identity, IdentityInvalid, Role, get_identity
from node.api.bodies import read_document
from node.api.keys import NODE
from node.errors import ApiError
from p2p.errors import SettingsInvalid
from p2p.faults import Direction, LinkRule, LinkRules

RULES_BYTES_MAX = 16 * 1024
RULES = web.AppKey("link_rules", dict)


def add_admin_routes(app: web.Application) -> None:
    app[RULES] = {}
    app.router.add_get("/v1/admin/link-rules", get_link_rules)
    app.router.add_put("/v1/admin/link-rules", put_link_rules)
    app.router.add_delete("/v1/admin/link-rules", delete_link_rules)


def validate_token(request: web.Request) -> None:
    """Raise ApiError unless the request is this hub's operator's: token, and certificate over TLS."""
    config = request.app[NODE].config
    token = config.admin.token
    if not token:
        raise ApiError(403, "ADMIN_CLOSED", "operator endpoints are closed: set [admin] token to open them")
    given = request.headers.get("Authorization", "").removeprefix("Bearer ").strip()
    if not hmac.compare_digest(given.encode(), token.encode()):
        raise ApiError(401, "BAD_ADMIN_TOKEN", "the Authorization header does not carry the admin token")
    if not config.tls.api_plaintext:
        validate_operator_certificate(request, config.node.name)


def validate_operator_certificate(request: web.Request, hub: str) -> None:
    """Raise ApiError 403 unless the TLS client certificate is that of ``hub``'s operator."""
    expected = Identity(Role.OPERATOR, hub)
    transport = request.transport
    ssl_object = transport.get_extra_info("ssl_object") if transport is not None else None
    der = ssl_object.getpeercert(binary_form=True) if isinstance(ssl_object, ssl.SSLObject) else None
    if not der:
        raise ApiError(
            403,
            "OPERATOR_CERTIFICATE_REQUIRED",
            f"present the client certificate of {expected} (TLS) with the token",
        )
    try:
        identity = get_identity(x509.load_der_x509_certificate(der))
    except IdentityInvalid as error:
        raise ApiError(403, "OPERATOR_CERTIFICATE_REQUIRED", error.message) from None
    if identity != expected:
        raise ApiError(
            403, "OPERATOR_CERTIFICATE_REQUIRED", f"the certificate names {identity}, not {expected}"
        )


async def get_link_rules(request: web.Request) -> web.Response:
    validate_token(request)
    return web.json_response({"rules": request.app[RULES]})


async def put_link_rules(request: web.Request) -> web.Response:
    validate_token(request)
    document, _ = await read_document(request, bytes_max=RULES_BYTES_MAX)
    if not isinstance(document, dict) or not isinstance(document.get("rules"), dict):
        raise ApiError(400, "BAD_RULES", 'send {"rules": {"<peer name>": {...}}}')
    node = request.app[NODE]
    names = [validator.name for validator in node.genesis.validators]
    peers: dict[int, LinkRule] = {}
    for name, fields in document["rules"].items():
        if name not in names or names.index(name) == node.index:
            raise ApiError(400, "UNKNOWN_PEER", f"{name!r} is not a peer of this node")
        peers[names.index(name)] = parse_rule(name, fields)
    node.network.set_link_rules(LinkRules(peers))
    request.app[RULES].clear()
    request.app[RULES].update(document["rules"])
    return web.json_response({"rules": request.app[RULES]})


async def delete_link_rules(request: web.Request) -> web.Response:
    validate_token(request)
    request.app[NODE].network.set_link_rules(LinkRules())
    request.app[RULES].clear()
    return web.json_response({"rules": {}})


def parse_rule(name: str, fields: Any) -> LinkRule:
    allowed = {"drop_fraction": (int, float), "delay_ms": (int,), "partitioned": (bool,), "direction": (str,)}
    if not isinstance(fields, dict) or set(fields) - set(allowed):
        raise ApiError(400, "BAD_RULES", f"the rule for {name!r} takes only {', '.join(allowed)}")
    for field, kinds in allowed.items():
        value = fields.get(field)
        if value is not None and (
            not isinstance(value, kinds) or (field == "delay_ms" and isinstance(value, bool))
        ):
            raise ApiError(400, "BAD_RULES", f"{name}.{field} has the wrong type")
    try:
        return LinkRule(
            drop_fraction=float(fields.get("drop_fraction", 0.0)),
            delay_ms=int(fields.get("delay_ms", 0)),
            partitioned=bool(fields.get("partitioned", False)),
            direction=Direction(fields.get("direction", "both")),
        )
    except (SettingsInvalid, ValueError) as error:
        raise ApiError(400, "BAD_RULES", f"the rule for {name!r} is invalid: {error}") from None
