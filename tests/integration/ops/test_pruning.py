"""A hub that prunes old blocks on real processes: it keeps committing with the others, answers
BLOCK_PRUNED for a pruned body, keeps every header and certificate, and its chain still
verifies offline from genesis."""

from __future__ import annotations

import json
import signal
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.harness import (
    ADMIN_TOKEN,
    LocalNetwork,
    Submitter,
    assert_same_chain,
    http_json,
    run_cli,
    wait_committed_on,
)

HUBS = ["beijing", "shanghai", "shenzhen", "hangzhou"]
CHECKPOINT_INTERVAL = 3  # so that the least keep_blocks (4 intervals) is short enough to test
KEEP_BLOCKS = 12
pytestmark = pytest.mark.integration



@pytest.fixture
def network(tmp_path: Path) -> Iterator[LocalNetwork]:
    network = LocalNetwork(
        tmp_path / "net",
        HUBS,
        env={
            "HUBLEDGER_ADMIN_TOKEN": ADMIN_TOKEN,
            "HUBLEDGER_CONSENSUS_CHECKPOINT_INTERVAL": str(CHECKPOINT_INTERVAL),
        },
    )
    pruning = {"HUBLEDGER_STORAGE_KEEP_BLOCKS": str(KEEP_BLOCKS)}
    for hub in HUBS:
        network.start(hub, env=pruning if hub == "shanghai" else None)
    yield network
    network.stop_all()


def test_a_pruning_hub_keeps_headers_refuses_pruned_bodies_and_verifies_from_genesis(
    network: LocalNetwork, tmp_path: Path
) -> None:
    submitter = Submitter(network, "bank-beijing", "bank-shanghai")
    first_id = submitter.transfer("beijing")
    wait_committed_on(network, "shanghai", first_id)
    first_height = int(wait_committed_on(network, "beijing", first_id)["height"])
    while network.height("shanghai") < first_height + 2 * KEEP_BLOCKS:
        wait_committed_on(network, "shanghai", submitter.transfer(HUBS[submitter.nonce % 4]))
    height = assert_same_chain(network, HUBS)  # from headers: the pruning hub agrees at every height

    status = network.status("shanghai")
    assert status["first_block_height"] > first_height
    assert network.status("beijing")["first_block_height"] == 1
    assert status["first_block_height"] >= height - KEEP_BLOCKS - 64  # pruned as it commits
    code, refused = http_json(f"{network.url('shanghai')}/v1/blocks/{first_height}")
    assert code == 410 and refused["error"]["code"] == "BLOCK_PRUNED"
    assert f"/v1/headers/{first_height}" in refused["error"]["message"]
    code, record = http_json(f"{network.url('shanghai')}/v1/transactions/{first_id}")
    assert code == 200 and record["status"] == "committed"
    assert (record["height"], record["pruned"]) == (first_height, True)

    code, refused = http_json(f"{network.url('shanghai')}/v1/events?from_height=1")
    assert code == 410 and refused["error"]["code"] == "BLOCK_PRUNED"

    genesis = str(network.directory / "genesis.json")
    exported = tmp_path / "chain.jsonl"
    plain = run_cli(network, "export", "--node", network.url("shanghai"), "--out", str(exported))
    assert plain.returncode == 2 and plain.stderr.count("\n") == 1 and "--admin-token" in plain.stderr
    operator = str(network.directory / "tls" / "clients" / "operator-shanghai.crt")
    done = run_cli(
        network,
        "export",
        "--node",
        network.url("shanghai"),
        "--out",
        str(exported),
        "--admin-token",
        ADMIN_TOKEN,
        "--cert",
        operator,
    )
    assert done.returncode == 0, done.stderr
    first_line = json.loads(exported.read_text().splitlines()[0])
    assert first_line["first_block_height"] > first_height
    verified = run_cli(network, "verify-chain", str(exported), "--genesis", genesis, "--quiet")
    assert verified.returncode == 0, verified.stderr
    assert "pruned by the hub" in verified.stdout

    # A state line changed by one byte no longer gives the certified root.
    lines = exported.read_text().splitlines()
    index = next(i for i, line in enumerate(lines) if line.startswith('{"state"'))
    document = json.loads(lines[index])
    key, value = document["state"][0]
    document["state"][0] = [key, value[:-1] + ("0" if value[-1] != "0" else "1")]
    lines[index] = json.dumps(document)
    exported.write_text("\n".join(lines) + "\n")
    forged = run_cli(network, "verify-chain", str(exported), "--genesis", genesis, "--quiet")
    assert forged.returncode == 1 and "STATE_ROOT" in forged.stderr


def test_a_pruning_hub_restarts_and_catches_up(network: LocalNetwork) -> None:
    submitter = Submitter(network, "bank-beijing", "bank-shanghai")
    while network.status("shanghai")["first_block_height"] < 5:
        wait_committed_on(network, "shanghai", submitter.transfer("beijing"))
    network.kill("shanghai", signal.SIGTERM)
    ids = [submitter.transfer("beijing") for _ in range(3)]
    network.start("shanghai", env={"HUBLEDGER_STORAGE_KEEP_BLOCKS": str(KEEP_BLOCKS)})  # checks its store
    for transaction_id in ids:
        wait_committed_on(network, "shanghai", transaction_id)
    assert_same_chain(network, HUBS)
