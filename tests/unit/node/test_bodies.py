"""The JSON depth walk answers any depth without recursion."""

from __future__ import annotations

from typing import Any

import pytest

from node.api.bodies import JSON_DEPTH_MAX, is_within_depth


def nest(depth: int) -> Any:
    document: Any = 1
    for level in range(depth):
        document = [document] if level % 2 else {"a": document}
    return document


@pytest.mark.parametrize(("document", "depth_max", "within"), [
    (1, 0, True), ([], 0, False), ([], 1, True), ({"a": [1]}, 2, True),
    ({"a": [[1]]}, 2, False), ([1, [2, [3]]], 3, True), ([1, [2, [3]]], 2, False),
])
def test_depth_is_counted_in_containers(document: Any, depth_max: int, within: bool) -> None:
    assert is_within_depth(document, depth_max) is within


def test_any_depth_is_answered() -> None:
    assert is_within_depth(nest(JSON_DEPTH_MAX), JSON_DEPTH_MAX)
    assert not is_within_depth(nest(JSON_DEPTH_MAX + 1), JSON_DEPTH_MAX)
    assert not is_within_depth(nest(200_000), JSON_DEPTH_MAX)
