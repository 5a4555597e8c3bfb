"""The observer says it is ready only when its height reaches what the hubs report: an empty
answer (a pruning, lagging or withholding hub) is no proof of being caught up, and is logged."""

from __future__ import annotations

import pytest
import structlog.testing

from node.clock import now_ms
from tests.unit.node.audit_chain import AuditChain, build_audit_chain
from tests.unit.node.observer_hubs import FakeHub, Following, make_follower, wait_until
from tests.unit.node.test_observer import Watch, encode_answer


@pytest.fixture(scope="module")
def audit(tmp_path_factory: pytest.TempPathFactory) -> AuditChain:
    return build_audit_chain(tmp_path_factory.mktemp("observer-ready"), block_count=4)


def test_an_empty_answer_does_not_make_a_fresh_observer_ready(audit: AuditChain) -> None:
    watch = Watch(audit)
    watch.follower.hubs["hangzhou"].answered_ms = now_ms()  # as a poll records an answer
    with structlog.testing.capture_logs() as logged:
        watch.follower.accept("hangzhou", encode_answer([]))  # what a pruning hub answers for block 1
        watch.follower.accept("hangzhou", encode_answer([]))
    assert watch.chain.latest_height() == 0
    assert watch.follower.is_caught_up() == "no hub that answered lately serves blocks from height 1"
    cannot = [line for line in logged if line["event"] == "hub_cannot_serve"]
    assert [(line["hub"], line["from_height"]) for line in cannot] == [("hangzhou", 1)]  # once a minute
    assert watch.follower.hubs["hangzhou"].problem == "serves no block from height 1"


async def test_an_observer_whose_only_hub_pruned_its_blocks_is_not_ready(audit: AuditChain) -> None:
    pruning = FakeHub(audit, "hangzhou", height=4, first_kept=3)
    follower, chain = make_follower(audit, [pruning])
    async with Following(follower):
        await wait_until(lambda: pruning.asked >= 3, "the pruning hub asked a few times")
        assert chain.latest_height() == 0
        assert follower.is_caught_up() == "at height 0 while the hubs report height 4"


async def test_ready_once_the_height_the_hubs_report_is_verified(audit: AuditChain) -> None:
    hubs = [
        FakeHub(audit, "hangzhou", height=4, first_kept=3),  # reports 4, serves nothing from 1
        FakeHub(audit, "beijing", height=4, per_answer=1),  # serves one block an answer
        FakeHub(audit, "shanghai", height=2),  # lags
    ]
    follower, chain = make_follower(audit, hubs)
    async with Following(follower):
        await wait_until(lambda: follower.is_caught_up() is None, "the observer ready")
        assert chain.latest_height() == 4  # not before: two hubs report 4


async def test_one_hub_claiming_a_height_nobody_serves_does_not_hold_readiness_back(
    audit: AuditChain,
) -> None:
    hubs = [FakeHub(audit, name, height=4) for name in ("beijing", "shanghai", "shenzhen")]
    liar = FakeHub(audit, "hangzhou", height=1_000_000, first_kept=1_000_000)  # f = 1 of 4
    follower, chain = make_follower(audit, [*hubs, liar])
    async with Following(follower):
        await wait_until(lambda: follower.is_caught_up() is None, "the observer ready at the honest height")
        assert chain.latest_height() == 4
