"""A real, unstarted Node over a fresh LevelDB directory, for tests of what it serves."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from hubledger_tools.netgen import generate_network
from node.runner import load_node_inputs
from node.service import Node


@pytest.fixture
def node(tmp_path: Path) -> Iterator[Node]:
    generate_network(["beijing", "shanghai", "shenzhen", "hangzhou"], tmp_path / "net")
    config, genesis, key = load_node_inputs(tmp_path / "net" / "beijing.toml")
    node = Node(config, genesis, key)
    yield node
    node.kv.close()
