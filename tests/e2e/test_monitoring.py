"""The compose profile "monitoring": Prometheus, built without a registry, scrapes every hub
with the alert rules of monitoring/alerts.yml loaded, and a hub that stops raises HubledgerHubDown."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator
from typing import Any

import pytest

from tests.e2e import chain
from tests.e2e.compose import REPOSITORY, run_command
from tests.e2e.conftest import BUILD_TIMEOUT_S, TIMINGS_S
from tests.e2e.network import HubNetwork, measure_s

PROFILE = ("--profile", "monitoring")
RULES = 8  # monitoring/alerts.yml
DEADLINE_S = 120.0


def get_dangling_images() -> list[str]:
    """Untagged images that a HubLedger build made (they carry the label org.hubledger.image)."""
    listed = run_command(["docker", "images", "--quiet", "--filter", "dangling=true",
                          "--filter", "label=org.hubledger.image"])
    return listed.split()


@pytest.fixture(scope="module")
def prometheus_image(node_image: str) -> str:
    started = time.monotonic()
    finished = subprocess.run(
        [str(REPOSITORY / "scripts/image/build-prometheus.sh")],
        capture_output=True, text=True, timeout=BUILD_TIMEOUT_S, cwd=REPOSITORY, check=False,
    )
    assert finished.returncode == 0, f"building the Prometheus image failed:\n{finished.stderr[-4000:]}"
    TIMINGS_S["build the Prometheus image"] = measure_s(started)
    assert get_dangling_images() == [], "an image build left untagged images behind"
    return "hubledger/prometheus:latest"


@pytest.fixture(scope="module")
def prometheus(prometheus_image: str, hub_network: HubNetwork) -> Iterator[str]:
    compose = hub_network.compose
    compose.compose(*PROFILE, "up", "--detach", "--no-build", "prometheus")
    url = f"http://127.0.0.1:{compose.prometheus_port}"
    try:
        ready = url + "/api/v1/status/buildinfo"
        chain.wait_until(lambda: chain.get_json(ready)[0] == 200, DEADLINE_S, "Prometheus answers its API")
        yield url
    finally:
        compose.compose(*PROFILE, "rm", "--force", "--stop", "-v", "prometheus", timeout_s=60)


def query(url: str, path: str) -> Any:
    code, document = chain.get_json(url + path)
    assert code == 200 and document["status"] == "success", f"{path}: {code} {document}"
    return document["data"]


def test_prometheus_scrapes_every_hub_with_the_rules_loaded(network: HubNetwork, prometheus: str) -> None:
    def every_hub_up() -> dict[str, str] | None:
        targets = query(prometheus, "/api/v1/targets?state=active")["activeTargets"]
        health = {target["labels"]["instance"]: target["health"] for target in targets}
        return health if health == dict.fromkeys(network.hubs, "up") else None

    started = time.monotonic()
    chain.wait_until(every_hub_up, DEADLINE_S, "Prometheus scraping all four hubs, each up")
    TIMINGS_S["Prometheus up -> every hub scraped"] = measure_s(started)
    groups = query(prometheus, "/api/v1/rules")["groups"]
    rules = [rule for group in groups for rule in group["rules"]]
    assert [group["name"] for group in groups] == ["hubledger"]
    assert len(rules) == RULES and all(rule["health"] == "ok" for rule in rules), rules
    heights = query(prometheus, "/api/v1/query?query=hubledger_chain_height")["result"]
    assert {sample["metric"]["instance"] for sample in heights} == set(network.hubs)
    targets = query(prometheus, "/api/v1/targets?state=active")["activeTargets"]
    assert all(target["scrapeUrl"].startswith("https://") for target in targets), targets  # TLS only
    expiry = query(prometheus, "/api/v1/query?query=hubledger_certificate_expiry_seconds")["result"]
    assert {sample["metric"]["instance"] for sample in expiry} == set(network.hubs)


def test_a_stopped_hub_raises_the_hub_down_alert(network: HubNetwork, prometheus: str) -> None:
    def hub_down_alert() -> dict[str, Any] | None:
        alerts = query(prometheus, "/api/v1/alerts")["alerts"]
        found = [alert for alert in alerts if alert["labels"]["alertname"] == "HubledgerHubDown"]
        return found[0] if found else None

    # A scrape that failed while Prometheus started leaves a pending alert until the rules' next
    # evaluation after every target is up, which seeing the targets up does not wait for.
    chain.wait_until(lambda: hub_down_alert() is None, DEADLINE_S, "no HubledgerHubDown while all hubs run")
    network.compose.compose("stop", "hangzhou", timeout_s=60)
    alert = chain.wait_until(hub_down_alert, DEADLINE_S, "HubledgerHubDown for the stopped hub")
    assert alert["labels"]["instance"] == "hangzhou"
    assert alert["state"] in ("pending", "firing")
