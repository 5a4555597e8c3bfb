"""verify-chain on a pruning hub's export: headers and certificates from genesis, the state
after the last pruned block against its certified root, then re-execution from there."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from contracts.genesis import compute_genesis_changes
from contracts.state import DictState
from hubledger_tools.audit.errors import ChainInvalid
from hubledger_tools.audit.verify_chain import verify_chain
from tests.unit.node.audit_chain import AuditChain, build_audit_chain


@pytest.fixture(scope="module")
def audit(tmp_path_factory: pytest.TempPathFactory) -> AuditChain:
    return build_audit_chain(tmp_path_factory.mktemp("audit") / "net", block_count=5)


def state_after(audit: AuditChain, height: int) -> list[list[str]]:
    state = DictState(compute_genesis_changes(audit.genesis))
    for changes in audit.changes[:height]:
        state.apply_changes(changes)
    return [[key.hex(), value.hex()] for key, value in state.iterate(b"")]


def pruned_lines(
    audit: AuditChain, first_kept: int, state: list[list[str]] | None = None
) -> list[dict[str, Any]]:
    """The export a hub keeping blocks from ``first_kept`` writes (state in lines of two pairs)."""
    lines = audit.export_lines()
    headers = [
        {name: line[name] for name in ("height", "header", "certificate")} for line in lines[: first_kept - 1]
    ]
    pairs = state_after(audit, first_kept - 1) if state is None else state
    state_lines = [{"state": pairs[index : index + 2]} for index in range(0, len(pairs), 2)]
    return [*headers, *state_lines, *lines[first_kept - 1 :]]


def check(audit: AuditChain, tmp_path: Path, lines: list[dict[str, Any]], first_kept: int) -> Any:
    path = audit.write_export(tmp_path / "chain.jsonl", lines, version=2, first_block_height=first_kept)
    return verify_chain(path, audit.genesis, show_progress=False)


@pytest.mark.parametrize("first_kept", [2, 4, 5, 6])
def test_a_pruning_hubs_export_verifies_from_genesis(
    audit: AuditChain, tmp_path: Path, first_kept: int
) -> None:
    report = check(audit, tmp_path, pruned_lines(audit, first_kept), first_kept)
    full = verify_chain(audit.write_export(tmp_path / "full.jsonl"), audit.genesis, show_progress=False)
    assert (report.last_block_hash, report.state_root) == (full.last_block_hash, full.state_root)
    assert report.first_block_height == first_kept
    assert report.total_supply_fen == full.total_supply_fen
    assert report.transactions == sum(len(block.transactions) for block, _ in audit.blocks[first_kept - 1 :])


def test_a_state_that_is_not_the_certified_one_is_refused(audit: AuditChain, tmp_path: Path) -> None:
    honest = state_after(audit, 2)
    richer = [list(pair) for pair in honest]
    richer[-1][1] = richer[-1][1][:-2] + ("00" if richer[-1][1][-2:] != "00" else "01")
    for state in (richer, honest[1:], [*honest, ["00", "00"]], [*honest, honest[0]]):
        with pytest.raises(ChainInvalid) as caught:
            check(audit, tmp_path, pruned_lines(audit, 3, state), 3)
        assert (caught.value.height, caught.value.code) == (2, "STATE_ROOT")


def test_a_pruned_header_must_link_and_be_certified(audit: AuditChain, tmp_path: Path) -> None:
    lines = pruned_lines(audit, 4)
    lines[1]["certificate"] = lines[0]["certificate"]
    with pytest.raises(ChainInvalid) as caught:
        check(audit, tmp_path, lines, 4)
    assert (caught.value.height, caught.value.code) == (2, "BAD_CERTIFICATE")
    lines = pruned_lines(audit, 4)
    del lines[1]
    with pytest.raises(ChainInvalid) as caught:
        check(audit, tmp_path, lines, 4)
    assert caught.value.code == "HEIGHT_GAP"


def test_state_lines_belong_only_where_the_pruned_blocks_end(audit: AuditChain, tmp_path: Path) -> None:
    lines = pruned_lines(audit, 3)
    misplaced = [lines[0], lines[2], lines[1], *lines[3:]]  # a state line before the last header
    with pytest.raises(ChainInvalid) as caught:
        check(audit, tmp_path, misplaced, 3)
    assert caught.value.code == "MALFORMED"
