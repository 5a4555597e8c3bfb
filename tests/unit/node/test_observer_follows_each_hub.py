"""The observer follows each hub at its own pace: a hub that never answers does not slow the
following of the others, and a hub's uncertified blocks cost no transaction signature checks."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import pytest

from ledger.block import Block
from ledger.transaction import Transaction
from ledger.types import TimestampMs
from node.signature_pool import SignaturePool
from tests.unit.node.audit_chain import AuditChain, build_audit_chain
from tests.unit.node.observer_hubs import FakeHub, Following, SilentHub, make_follower, wait_until
from tests.unit.node.test_observer import encode_answer

SILENT_TIMEOUT_MS = 30_000


@pytest.fixture(scope="module")
def audit(tmp_path_factory: pytest.TempPathFactory) -> AuditChain:
    return build_audit_chain(tmp_path_factory.mktemp("observer-each"), block_count=6)


async def test_a_silent_hub_does_not_hold_back_the_honest_ones(audit: AuditChain) -> None:
    honest = FakeHub(audit, "beijing", height=len(audit.blocks), per_answer=1)
    links = [honest, SilentHub("hangzhou")]
    follower, chain = make_follower(audit, links, request_timeout_ms=SILENT_TIMEOUT_MS)
    async with Following(follower):
        # One block an answer: six answers. Were the hubs asked together, that would take six timeouts.
        await wait_until(
            lambda: chain.latest_height() == len(audit.blocks),
            "every block followed from the honest hub",
            deadline_s=SILENT_TIMEOUT_MS / 1000 / 3,
        )


class ForgingHub(FakeHub):
    """Serves every block, the first of them altered under its real certificate."""

    async def request(self, payload: bytes, *, timeout_s: float) -> bytes:
        answer = await super().request(payload, timeout_s=timeout_s)
        if b"blocks" not in answer:
            return answer  # its status
        block, certificate = self._audit.blocks[0]
        header = dataclasses.replace(block.header, timestamp_ms=TimestampMs(block.header.timestamp_ms + 1))
        return encode_answer([(Block(header, block.transactions), certificate), *self._audit.blocks[1:]])


async def test_a_hub_serving_uncertified_blocks_costs_no_signature_checks(
    audit: AuditChain, monkeypatch: pytest.MonkeyPatch
) -> None:
    checked: list[Transaction] = []

    async def find_valid(pool: SignaturePool, transactions: Sequence[Transaction]) -> list[Transaction]:
        checked.extend(transactions)
        return []  # nothing marked verified: validate_block checks them again, as it always may

    monkeypatch.setattr(SignaturePool, "find_valid", find_valid)
    follower, chain = make_follower(audit, [ForgingHub(audit, "hangzhou", height=len(audit.blocks))])
    async with Following(follower):
        await wait_until(lambda: follower.alerts.count_for("hangzhou") >= 3, "the forged answers alerted")
    assert [(alert.reason, alert.height) for alert in follower.alerts.recent][-1] == ("bad_certificate", 1)
    assert checked == [] and chain.latest_height() == 0
    # The same answer from an honest hub: its certified blocks' transactions are checked.
    follower, chain = make_follower(audit, [FakeHub(audit, "beijing", height=len(audit.blocks))])
    async with Following(follower):
        await wait_until(lambda: chain.latest_height() == len(audit.blocks), "the honest blocks followed")
    assert len(checked) == sum(len(block.transactions) for block, _ in audit.blocks)
