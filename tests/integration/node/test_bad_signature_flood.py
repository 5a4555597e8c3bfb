"""Floods of bad-signature batches at every hub do not starve consensus.

Four hubs on 127.0.0.1; each bank submits transfers to its own hub one after
another, waiting for each to commit (a light, honest, closed-loop load), and
the rate of honest commits is measured first alone, then while flooders post
batches of bad-signature transactions (several connections per hub, thousands
of items each, from 127.0.0.2 so that the flooder has an address of its own)
as fast as the hubs answer. Before signatures were checked off the event loop,
within a budget per address, such a flood cut commits from about 40 to under
one a second. The flooded rate must stay at least FLOODED_FRACTION_MIN of the
unflooded one, and every hub must have told the flooder 429.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from collections.abc import Iterator

import pytest

from ledger.transaction import Transaction
from tests.integration.harness import LocalNetwork, http_json, wait_for

HUBS = ["beijing", "shanghai", "shenzhen", "hangzhou"]
FLOODER_ADDRESS = "127.0.0.2"
CONNECTIONS_PER_HUB = 3
ITEMS_PER_BATCH = 2000
MEASURE_S = 10.0
FLOODED_FRACTION_MIN = 0.5

pytestmark = pytest.mark.slow  # about 30 s: two measuring windows of MEASURE_S


@pytest.fixture(scope="module")
def network(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalNetwork]:
    network = LocalNetwork(tmp_path_factory.mktemp("flood") / "net", HUBS)
    network.start_all()
    wait_for(lambda: all(network.readiness(hub)[0] == 200 for hub in HUBS), what="every hub to be ready")
    yield network
    network.stop_all()


class HonestLoad:
    """Each bank transfers to the central bank through its own hub, one transfer at a time."""

    def __init__(self, network: LocalNetwork) -> None:
        self.network = network
        self.commits: list[float] = []  # monotonic times of honest commits
        self.stopping = threading.Event()
        self.errors: list[str] = []
        self._lock = threading.Lock()
        self._threads = [threading.Thread(target=self._run, args=(hub,), daemon=True) for hub in HUBS]

    def start(self) -> None:
        for thread in self._threads:
            thread.start()

    def stop(self) -> None:
        self.stopping.set()
        for thread in self._threads:
            thread.join(timeout=30)

    def count_between(self, start: float, end: float) -> int:
        with self._lock:
            return sum(1 for moment in self.commits if start <= moment < end)

    def _run(self, hub: str) -> None:
        key = self.network.account_key(f"bank-{hub}")
        receiver = self.network.account_key("central-bank").public_key.address.hex()
        url = self.network.url(hub)
        nonce = 0
        while not self.stopping.is_set():
            transaction = Transaction.create(
                key,
                chain_id=self.network.genesis.chain_id,
                nonce=nonce,
                contract="cbdc",
                method="transfer",
                args={"to": receiver, "amount": 1},
            )
            code, answer = http_json(url + "/v1/transactions", transaction.to_json(), timeout_s=30)
            if code != 202:
                self.errors.append(f"{hub}: {code} {answer}")
                time.sleep(0.1)  # BUSY or a slow moment: offer it again shortly, as the client library does
                continue
            if self._wait_committed(url, transaction.id.hex()):
                with self._lock:
                    self.commits.append(time.monotonic())
                nonce += 1

    def _wait_committed(self, url: str, transaction_id: str) -> bool:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not self.stopping.is_set():
            code, record = http_json(f"{url}/v1/transactions/{transaction_id}", timeout_s=30)
            if code == 200 and record["status"] == "committed":
                return True
            time.sleep(0.01)
        return False


def make_bad_batch(network: LocalNetwork) -> bytes:
    """Well-formed transfers whose signatures are real, low-S, and for other transfers: every one
    costs a full verification to refuse."""
    key = network.account_key("bank-beijing")
    items = []
    for nonce in range(ITEMS_PER_BATCH):
        signed, other = (
            Transaction.create(
                key,
                chain_id=network.genesis.chain_id,
                nonce=nonce,
                contract="cbdc",
                method="transfer",
                args={"to": "00" * 20, "amount": amount},
            ).to_json()
            for amount in (1, 2)
        )
        items.append({**signed, "signature": other["signature"]})
    return json.dumps({"transactions": items}).encode()


class Flood:
    """The flooder (tests/integration/node/bad_signature_flooder.py), in a process of its own."""

    def __init__(self, network: LocalNetwork, body: bytes) -> None:
        self.body_file = network.directory / "bad-batch.json"
        self.body_file.write_bytes(body)
        ports = [str(network.api_ports[hub]) for hub in HUBS]
        self.hub_by_port = {str(network.api_ports[hub]): hub for hub in HUBS}
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "tests.integration.node.bad_signature_flooder",
                str(self.body_file),
                FLOODER_ADDRESS,
                str(CONNECTIONS_PER_HUB),
                str(network.ca_file),
                *ports,
            ],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.process.stdout is not None
        assert self.process.stdout.readline().strip() == "flooding"

    def stop(self) -> tuple[dict[str, dict[str, int]], dict[str, list[str]]]:
        """How each hub answered (status: count; 0 counts connections cut off) and its Retry-After values."""
        output, _ = self.process.communicate(timeout=120)
        report = json.loads(output.strip().splitlines()[-1])
        answers = {self.hub_by_port[port]: counts for port, counts in report["answers"].items()}
        retry_after = {self.hub_by_port[port]: values for port, values in report["retry_after"].items()}
        return answers, retry_after


def measure(load: HonestLoad, seconds: float) -> float:
    start = time.monotonic()
    time.sleep(seconds)  # a measuring window, not a wait for a condition
    return load.count_between(start, start + seconds) / seconds


def test_commits_continue_while_every_hub_is_flooded_with_bad_signatures(network: LocalNetwork) -> None:
    body = make_bad_batch(network)
    load = HonestLoad(network)
    load.start()
    try:
        wait_for(lambda: len(load.commits) >= 20, what="the honest load to commit")
        unflooded = measure(load, MEASURE_S)
        height_before = network.height("beijing")
        flood = Flood(network, body)
        try:
            flooded = measure(load, MEASURE_S)
            blocks_flooded = network.height("beijing") - height_before
        finally:
            answers, retry_after = flood.stop()
    finally:
        load.stop()
    print(
        f"\nhonest commits/s: unflooded {unflooded:.1f}, flooded {flooded:.1f} "
        f"({flooded / unflooded:.0%}); blocks in the flooded window: {blocks_flooded}; "
        f"flood answers by hub (status: count, 0 = cut off): {answers}; Retry-After: {retry_after}"
    )
    assert unflooded > 0
    assert flooded >= FLOODED_FRACTION_MIN * unflooded, (unflooded, flooded, answers)
    for hub in HUBS:
        assert answers[hub].get("429", 0) > 0, f"{hub} never refused the flooder: {answers}"
        assert set(retry_after[hub]) - {""}, f"{hub} answered 429 without Retry-After"
