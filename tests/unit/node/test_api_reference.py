"""docs/api.md, the API reference, names every route the node registers."""

from __future__ import annotations

import re
from pathlib import Path

from node.api.app import build_api
from node.service import Node

REFERENCE = Path(__file__).resolve().parents[3] / "docs" / "api.md"
PLACEHOLDER = re.compile(r"\{[^}]*\}")


def normalize(route: str) -> str:
    return PLACEHOLDER.sub("{}", route)


def test_every_registered_route_is_in_the_api_reference_and_nothing_else(node: Node) -> None:
    app = build_api(node)
    text = REFERENCE.read_text()
    documented = set(re.findall(r"`((?:GET|POST|PUT|DELETE|PATCH) /[^`\s]*)", text))
    routes = {
        f"{route.method} {route.resource.canonical}"
        for route in app.router.routes()
        if route.method != "HEAD" and route.resource is not None
    }
    missing = sorted({normalize(route) for route in routes} - {normalize(entry) for entry in documented})
    assert not missing, f"routes the node serves but docs/api.md does not describe: {missing}"
    patterns = [
        re.compile(PLACEHOLDER.sub("[^/]+", re.escape(route).replace(r"\{", "{").replace(r"\}", "}")))
        for route in routes
    ]
    unserved = sorted(entry for entry in documented if not any(p.fullmatch(entry) for p in patterns))
    assert not unserved, f"docs/api.md describes routes the node does not serve: {unserved}"
    assert len(routes) >= 15
