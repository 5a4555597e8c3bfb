"""The operator endpoint for link rules: closed without a token, refused with a wrong one or
without this hub's operator certificate, and a partition set through it stops a hub from
hearing the others until it is lifted."""

from __future__ import annotations

import ssl
from pathlib import Path
from typing import Any

from tests.integration.harness import LocalNetwork, Submitter, http_json, wait_committed_on, wait_for

HUBS = ["beijing", "shanghai", "shenzhen", "hangzhou"]


def put_rules(
    network: LocalNetwork, hub: str, rules: dict[str, Any], token: str, context: ssl.SSLContext | None = None
) -> tuple[int, Any]:
    """PUT link rules as ``hub``'s operator (its certificate), or with ``context`` instead."""
    headers = {"Authorization": f"Bearer {token}"}
    url = network.url(hub) + "/v1/admin/link-rules"
    context = context or network.operator_context(hub)
    return http_json(url, {"rules": rules}, method="PUT", headers=headers, context=context)


def test_the_admin_endpoint_is_closed_without_a_token(tmp_path: Path) -> None:
    network = LocalNetwork(tmp_path, ["beijing"])
    try:
        network.start_all()
        code, answer = put_rules(network, "beijing", {}, "anything")
        assert code == 403 and answer["error"]["code"] == "ADMIN_CLOSED"
    finally:
        network.stop_all()


def test_a_partition_set_at_run_time_stops_and_heals_a_hub(tmp_path: Path) -> None:
    token = "tester-token"
    network = LocalNetwork(tmp_path, HUBS, env={"HUBLEDGER_ADMIN_TOKEN": token})
    try:
        network.start_all()
        assert put_rules(network, "beijing", {}, "wrong")[0] == 401
        # The token alone, or with the operator certificate of another hub, does not open it.
        for context in (network.context, network.operator_context("shanghai")):
            code, answer = put_rules(network, "beijing", {}, token, context)
            assert (code, answer["error"]["code"]) == (403, "OPERATOR_CERTIFICATE_REQUIRED")
        assert put_rules(network, "beijing", {"nowhere": {"partitioned": True}}, token)[0] == 400
        submitter = Submitter(network, "bank-beijing", "bank-shanghai")
        wait_committed_on(network, "hangzhou", submitter.transfer("beijing"))
        for hub in HUBS[:3]:
            assert put_rules(network, hub, {"hangzhou": {"partitioned": True}}, token)[0] == 200
        assert (
            put_rules(network, "hangzhou", {hub: {"partitioned": True} for hub in HUBS[:3]}, token)[0] == 200
        )
        stuck = network.height("hangzhou")
        for _ in range(3):
            wait_committed_on(network, "shenzhen", submitter.transfer("beijing"))
        # Committed on shenzhen; beijing commits the same blocks on receiving its own quorum of votes.
        wait_for(lambda: network.height("beijing") > stuck, what="beijing to commit without hangzhou")
        assert network.height("hangzhou") == stuck
        for hub in HUBS:
            code, _ = http_json(
                network.url(hub) + "/v1/admin/link-rules",
                method="DELETE",
                headers={"Authorization": f"Bearer {token}"},
                context=network.operator_context(hub),
            )
            assert code == 200
        wait_committed_on(network, "hangzhou", submitter.transfer("beijing"))
        target = network.height("beijing")
        wait_for(lambda: network.height("hangzhou") >= target, what="hangzhou to catch up after the heal")
        assert http_json(network.url("hangzhou") + "/healthz")[0] == 200
    finally:
        network.stop_all()
