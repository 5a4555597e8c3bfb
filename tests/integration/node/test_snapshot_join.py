"""A hub wiped of its data rejoins from a peer's certified state snapshot, not by replay.

Four real hubs take a snapshot every 10 blocks. One is stopped, its LevelDB directory
deleted, and started again: it must join from a snapshot (its first stored block is
above 1, block 1 is not served by it), then follow the chain by state transfer, and
agree with the others on the chain and on every balance.
"""

from __future__ import annotations

import functools
import shutil
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ledger.keys import PrivateKey
from tests.integration.harness import LocalNetwork, Submitter, http_json, signed_get, wait_for

HUBS = ["beijing", "shanghai", "shenzhen", "hangzhou"]
INTERVAL = 10
WIPED = "hangzhou"


@pytest.fixture
def network(tmp_path: Path) -> Iterator[LocalNetwork]:
    network = LocalNetwork(tmp_path, HUBS, env={"HUBLEDGER_SNAPSHOTS_INTERVAL": str(INTERVAL)})
    try:
        network.start_all()
        yield network
    finally:
        network.stop_all()


def read_metrics(network: LocalNetwork, hub: str) -> dict[str, float]:
    with urllib.request.urlopen(network.url(hub) + "/metrics", timeout=5, context=network.context) as answer:
        text = answer.read().decode()
    values = {}
    for line in text.splitlines():
        if line.startswith("hubledger_") and " " in line:
            name, value = line.rsplit(" ", 1)
            values[name] = float(value)
    return values


def balances(network: LocalNetwork, hub: str) -> dict[str, int]:
    found = {}
    for bank in ("bank-beijing", "bank-shanghai"):
        key = network.account_key(bank)
        path = f"/v1/accounts/{key.public_key.address.hex()}"
        # A hub that has just restarted its replica answers nonce-bearing reads NO_QUORUM until its
        # peers' status answers are fresh again (node/standing.py): wait for that, not for luck.
        code, account = wait_for(
            functools.partial(_read_unless_refused, network, hub, path, key),
            what=f"{hub} to answer {bank}'s account",
        )
        assert code == 200, account
        found[bank] = int(account["balance"])
    return found


def _read_unless_refused(
    network: LocalNetwork, hub: str, path: str, key: PrivateKey
) -> tuple[int, Any] | None:
    code, document = answer = signed_get(network, hub, path, key)
    refused = code == 503 and isinstance(document, dict) and document.get("error", {}).get("code") in (
        "NO_QUORUM",
        "BEHIND",
    )
    return None if refused else answer


def test_a_wiped_hub_rejoins_from_a_snapshot_and_agrees_with_the_others(network: LocalNetwork) -> None:
    submitter = Submitter(network, "bank-beijing", "bank-shanghai")
    while network.height("beijing") < 3 * INTERVAL:  # past a few snapshot heights
        submitter.transfer("beijing")
    network.kill(WIPED)
    shutil.rmtree(network.directory / "data" / WIPED)
    for _ in range(5):  # the chain moves on while the hub is away
        submitter.transfer("beijing")
    network.start(WIPED)

    joined = wait_for(
        lambda: read_metrics(network, WIPED).get("hubledger_snapshot_joined_height"),
        what=f"{WIPED} to join from a snapshot",
    )
    assert joined >= 2 * INTERVAL
    last = submitter.transfer("shanghai")  # after the join: the wiped hub must follow the chain
    target = wait_for(
        lambda: http_json(f"{network.url('beijing')}/v1/transactions/{last}")[1].get("height"),
        what="the last transfer to commit",
    )
    wait_for(lambda: network.height(WIPED) >= target, what=f"{WIPED} to catch up to {target}")
    reference = network.block_hashes("beijing", target)[-1]
    assert http_json(f"{network.url(WIPED)}/v1/blocks/{target}")[1]["hash"] == reference
    assert balances(network, WIPED) == balances(network, "beijing")

    metrics = read_metrics(network, WIPED)
    assert metrics["hubledger_chain_first_block_height"] == joined + 1  # nothing below replayed
    assert metrics["hubledger_snapshot_chunks_verified_total"] == 256
    code, refused = http_json(f"{network.url(WIPED)}/v1/blocks/1")  # below its base: not here
    assert code == 410 and refused["error"]["code"] == "BLOCK_PRUNED"
    assert '"snapshot_joined"' in network.log_text(WIPED)
