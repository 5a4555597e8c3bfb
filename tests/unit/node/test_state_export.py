"""GET /v1/admin/state refuses a bad height as every other request does: the same status, the
same stable code, and nothing read or changed."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from hubledger_tools.netgen import generate_network
from ledger.types import Height
from node.api.app import build_api
from node.config_sections import AdminSection
from node.runner import load_node_inputs
from node.service import Node

Served = tuple[Node, TestClient[web.Request, web.Application]]
TOKEN = "operator-of-beijing"


@pytest.fixture
async def served(tmp_path: Path) -> AsyncIterator[Served]:
    generate_network(["beijing", "shanghai", "shenzhen", "hangzhou"], tmp_path / "net")
    config, genesis, key = load_node_inputs(tmp_path / "net" / "beijing.toml")
    # Plain HTTP, so the token alone opens the operator endpoints (no client certificate).
    config = replace(config, admin=AdminSection(token=TOKEN), tls=replace(config.tls, api_plaintext=True))
    node = Node(config, genesis, key)
    client = TestClient(TestServer(build_api(node)))
    await client.start_server()
    yield node, client
    await client.close()
    node.kv.close()


async def get_state(client: TestClient[web.Request, web.Application], query: str) -> tuple[int, str, str]:
    response = await client.get(f"/v1/admin/state{query}", headers={"Authorization": f"Bearer {TOKEN}"})
    return response.status, await response.text(), response.headers.get("Retry-After", "")


def everything(node: Node) -> list[tuple[bytes, bytes]]:
    return list(node.kv.iterate())


@pytest.mark.parametrize("height", ["abc", "-1", "1.5", "", "%C2%B2", "%EF%BC%91", "9" * 20])
async def test_a_height_that_is_not_a_whole_number_is_malformed_as_everywhere(
    served: Served, height: str
) -> None:
    node, client = served
    before = everything(node)
    status, text, _ = await get_state(client, f"?height={height}")
    expected = {"error": {"code": "MALFORMED", "message": "height must be a whole number (a block height)"}}
    assert (status, json.loads(text)) == (400, expected)
    assert everything(node) == before


async def test_a_height_above_the_latest_is_behind_as_for_an_accounts_proof(served: Served) -> None:
    node, client = served
    before = everything(node)
    status, text, retry_after = await get_state(client, f"?height={node.chain.latest_height() + 1}")
    assert (status, json.loads(text)["error"]["code"], retry_after) == (503, "BEHIND", "1")
    assert everything(node) == before


async def test_a_height_below_the_first_kept_blocks_parent_is_not_retained(
    served: Served, monkeypatch: pytest.MonkeyPatch
) -> None:
    node, client = served
    # What a hub that pruned blocks 1 to 5 of 9 tells this endpoint.
    monkeypatch.setattr(node.chain, "latest_height", lambda: Height(9))
    monkeypatch.setattr(node.chain, "first_block_height", lambda: Height(6))
    before = everything(node)
    status, text, _ = await get_state(client, "?height=4")
    answer: Any = json.loads(text)
    assert (status, answer["error"]["code"]) == (409, "STATE_NOT_RETAINED")
    assert "from height 5" in answer["error"]["message"]
    assert everything(node) == before


async def test_a_whole_height_in_range_is_answered_and_is_the_default(served: Served) -> None:
    node, client = served
    for query in ("?height=0", ""):
        status, text, _ = await get_state(client, query)
        head = json.loads(text.splitlines()[0])
        assert (status, head) == (200, {"height": 0, "state_root": node.chain.get_state_root(0).hex()})
