"""Operating, following and auditing a real four-hub network: metrics, status page, events, export, logs.

One network serves every test of this module (starting four processes is
the slow part); the tests only add transactions, so they do not disturb
each other.
"""

from __future__ import annotations

import asyncio
import json
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from hubledger_client.client import Client
from tests.integration.harness import LocalNetwork, Submitter, http_json, run_cli, wait_committed_on, wait_for
from tests.integration.ops.browser import Browser, find_chromium

HUBS = ["beijing", "shanghai", "shenzhen", "hangzhou"]
ARTIFACTS = Path(__file__).resolve().parents[3] / "test-artifacts"


@pytest.fixture(scope="module")
def network(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalNetwork]:
    network = LocalNetwork(tmp_path_factory.mktemp("ops") / "net", HUBS)
    network.start_all()
    wait_for(lambda: all(len(network.status(hub)["connected_peers"]) == 3 for hub in HUBS), what="full mesh")
    yield network
    network.stop_all()


@pytest.fixture(scope="module")
def committed(network: LocalNetwork) -> list[str]:
    """Twelve transfers from two banks, committed on every hub."""
    submitters = [
        Submitter(network, "bank-beijing", "bank-shanghai"),
        Submitter(network, "bank-shenzhen", "central-bank"),
    ]
    ids = [submitters[index % 2].transfer(HUBS[index % 4], amount=100 + index) for index in range(12)]
    for hub in HUBS:
        wait_committed_on(network, hub, ids[-1])
        wait_committed_on(network, hub, ids[-2])
    return ids



def test_metrics_parse_and_agree_with_the_node(network: LocalNetwork, committed: list[str]) -> None:
    metrics = urllib.request.urlopen(network.url("shenzhen") + "/metrics", timeout=5, context=network.context)
    text = metrics.read().decode()
    samples = {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }
    status = network.status("shenzhen")
    assert samples[("hubledger_chain_height", ())] >= 1
    assert samples[("hubledger_peers_connected", ())] == 3
    assert samples[("hubledger_quorum", ())] == 3  # the alert rule HubledgerNoQuorum compares the two
    assert samples[("hubledger_is_primary", ())] == int(status["is_primary"])
    assert (
        sum(v for (name, _), v in samples.items() if name == "hubledger_transactions_committed_total") >= 12
    )
    assert samples[("hubledger_block_commit_latency_seconds_count", ())] >= 1
    assert samples[("hubledger_p2p_messages_total", (("direction", "received"), ("type", "commit")))] >= 3
    assert samples[("hubledger_cbdc_total_supply_fen", ())] > 0
    assert all(samples[("hubledger_p2p_link_up", (("peer", hub),))] == 1 for hub in HUBS if hub != "shenzhen")


def test_ready_and_the_network_view_shows_every_hub(network: LocalNetwork, committed: list[str]) -> None:
    code, ready = http_json(network.url("hangzhou") + "/readyz")
    assert (code, ready["status"]) == (200, "ready")

    def every_hub_answered() -> dict[str, Any] | None:
        view = http_json(network.url("hangzhou") + "/v1/network")[1]
        return view if all(hub["reachable"] and hub["height"] >= 1 for hub in view["hubs"]) else None

    view = wait_for(every_hub_answered, what="every hub in hangzhou's network view")
    assert [hub["name"] for hub in view["hubs"]] == HUBS
    assert all(sorted(hub["connected_peers"]) == sorted(set(HUBS) - {hub["name"]}) for hub in view["hubs"])
    assert view["recent_blocks"][0]["height"] == view["height"]
    assert view["transactions_per_second"] > 0


async def test_events_replay_history_then_follow_new_commits(
    network: LocalNetwork, committed: list[str]
) -> None:
    receiver = network.account_key("bank-shanghai").public_key.address.hex()
    expected = set(committed[0::2])  # bank-beijing's transfers to bank-shanghai
    submitter = Submitter(network, "bank-hangzhou", "bank-shanghai")
    seen: set[str] = set()
    live_id = ""
    async with Client(network.url("shanghai"), ssl_context=network.context) as client, asyncio.timeout(30):
        async for event in client.follow_events(from_height=1, account=receiver, reconnect=False):
            if event["type"] == "receipt":
                assert receiver in json.dumps(event), event
                seen.add(event["id"])
                if event["id"] == live_id:
                    break
            elif expected <= seen and not submitter.nonce:
                live_id = submitter.transfer("beijing")  # history replayed: now one commits live
    assert expected <= seen
    assert not seen & set(committed[1::2])  # bank-shenzhen's transfers do not involve bank-shanghai


def test_export_and_verify_chain_offline(network: LocalNetwork, committed: list[str], tmp_path: Path) -> None:
    out = tmp_path / "chain.jsonl"
    height = network.height("beijing")
    node = network.url("beijing")
    export = run_cli(network, "export", "--node", node, "--to", str(height), "--out", str(out))
    assert export.returncode == 0, export.stderr
    genesis = str(network.directory / "genesis.json")
    started = time.monotonic()
    verified = run_cli(network, "verify-chain", str(out), "--genesis", genesis)
    elapsed_s = time.monotonic() - started
    assert verified.returncode == 0, verified.stderr
    assert f"blocks 1..{height}" in verified.stdout and "blocks verified" in verified.stderr
    print(f"verify-chain: {height} blocks in {elapsed_s:.2f} s (including interpreter start)")

    lines = out.read_text().splitlines()
    block = json.loads(lines[1])
    block["transactions"][0]["args"]["amount"] += 1
    lines[1] = json.dumps(block)
    out.write_text("\n".join(lines) + "\n")
    tampered = run_cli(network, "verify-chain", str(out), "--genesis", genesis, "--quiet")
    assert tampered.returncode == 1
    assert tampered.stderr.startswith(
        "chain INVALID at block 1 (line 2): MERKLE_ROOT: the transactions hash to"
    )


def test_proof_of_a_transaction_verifies_offline(
    network: LocalNetwork, committed: list[str], tmp_path: Path
) -> None:
    out = tmp_path / "proof.json"
    fetched = run_cli(network, "proof", committed[5], "--node", network.url("hangzhou"), "--out", str(out))
    assert fetched.returncode == 0, fetched.stderr
    genesis = str(network.directory / "genesis.json")
    verified = run_cli(network, "verify-receipt", str(out), "--genesis", genesis)
    assert verified.returncode == 0, verified.stderr
    assert verified.stdout.startswith(f"transaction {committed[5]} is final: committed at height ")
    assert "\n  outcome: success\n  event Transfer(" in verified.stdout
    proof = json.loads(out.read_text())
    proof["certificate"]["votes"] = proof["certificate"]["votes"][:1]
    out.write_text(json.dumps(proof))
    refused = run_cli(network, "verify-receipt", str(out), "--genesis", genesis)
    assert (refused.returncode, refused.stderr.strip()) == (
        1,
        "proof INVALID: BAD_CERTIFICATE: certificate has 1 votes, a quorum is 3",
    )


def test_a_failed_transaction_is_proven_failed_and_its_receipt_cannot_be_edited(
    network: LocalNetwork, committed: list[str], tmp_path: Path
) -> None:
    overdraft = Submitter(network, "central-bank", "bank-beijing").transfer("shanghai", amount=2**62)
    wait_committed_on(network, "shanghai", overdraft)
    out = tmp_path / "proof.json"
    fetched = run_cli(network, "proof", overdraft, "--node", network.url("shanghai"), "--out", str(out))
    assert fetched.returncode == 0, fetched.stderr
    genesis = str(network.directory / "genesis.json")
    verified = run_cli(network, "verify-receipt", str(out), "--genesis", genesis)
    assert verified.returncode == 7, verified.stderr
    assert "\n  outcome: FAILED INSUFFICIENT_FUNDS: " in verified.stdout
    final = run_cli(network, "verify-receipt", str(out), "--genesis", genesis, "--finality-only")
    assert final.returncode == 0 and final.stdout == verified.stdout
    proof = json.loads(out.read_text())
    proof["receipt"].update(success=True, code="", message="")
    out.write_text(json.dumps(proof))
    edited = run_cli(network, "verify-receipt", str(out), "--genesis", genesis)
    assert edited.returncode == 1
    assert edited.stderr.startswith("proof INVALID: RECEIPT_PATH: the receipt's receipt_path leads to")


def test_logs_have_one_line_per_block_and_peer_link_and_no_message_noise(
    network: LocalNetwork, committed: list[str]
) -> None:
    events = [json.loads(line) for line in network.log_text("shanghai").splitlines() if line.startswith("{")]
    commits = [event for event in events if event["event"] == "block_committed"]
    assert commits and all(
        {"height", "transactions", "view", "latency_ms"} <= set(event) for event in commits
    )
    assert len({event["height"] for event in commits}) == len(commits)  # one line per block
    assert any(event["event"] == "peer_connected" for event in events)
    assert all(event["level"] != "debug" for event in events)


async def test_status_page_in_a_real_browser_shows_four_hubs_and_a_rising_height(
    network: LocalNetwork, committed: list[str], tmp_path: Path
) -> None:
    chromium, reason = find_chromium()
    if chromium is None:
        pytest.skip(reason)
    submitter = Submitter(network, "bank-shanghai", "central-bank")
    hub_certificates = [network.directory / "tls" / "hubs" / f"{hub}.crt" for hub in network.hubs]
    async with Browser(chromium, tmp_path / "profile", hub_certificates) as browser:
        await browser.open(network.url("beijing") + "/")
        hubs = await _wait_for_value(
            browser, HUB_ROWS, lambda rows: len(rows) == 4 and all(r[1] != "?" for r in rows)
        )
        assert [row[0].split(" ")[0] for row in hubs] == HUBS
        first = int(await browser.evaluate("document.getElementById('chain-height').textContent"))
        wait_committed_on(network, "beijing", submitter.transfer("beijing"))
        risen = await _wait_for_value(
            browser,
            "Number(document.getElementById('chain-height').textContent)",
            lambda height: height > first,
        )
        rows = await browser.evaluate(HUB_ROWS)
        ARTIFACTS.mkdir(exist_ok=True)
        await browser.screenshot(ARTIFACTS / "status-page.png")
    assert risen > first
    assert {row[2] for row in rows} == {"ok"}


HUB_ROWS = """[...document.querySelectorAll('#hubs tr.hub')].map(
    (row) => [row.querySelector('.name').textContent, row.querySelector('.height').textContent,
              row.querySelector('.state').textContent])"""


async def _wait_for_value(browser: Browser, expression: str, accept: Any, timeout_s: float = 20.0) -> Any:
    """Evaluate ``expression`` in the page until ``accept`` holds; the page refreshes itself every second."""
    deadline = time.monotonic() + timeout_s
    value = None
    while time.monotonic() < deadline:
        value = await browser.evaluate(expression)
        if value is not None and accept(value):
            return value
        await asyncio.sleep(0.2)
    raise AssertionError(f"the page never showed what was expected; last: {value!r}")
