"""The observer's judgement of a hub's answer: what verifies is committed, anything else is an
alert naming the hub and nothing of it is kept; and its config is checked like a hub's."""

from __future__ import annotations

import dataclasses
import ssl
from pathlib import Path
from typing import cast

import aiohttp
import pytest
import structlog.testing

from contracts.genesis import compute_genesis_changes
from hubledger_tools.netgen import observer_config_name
from ledger import cbor
from ledger.block import Block, compute_transactions_root
from ledger.certificate import CommitCertificate
from ledger.types import TimestampMs
from node.application import LedgerApplication
from node.config import load_config
from node.errors import ConfigError
from node.observer.alerts import TamperAlerts
from node.observer.follower import Follower
from p2p.observer_links import HubLink
from storage.chain import ChainStore
from storage.kv import MemoryStore
from tests.unit.node.audit_chain import AuditChain, build_audit_chain

HUBS = ["beijing", "shanghai", "shenzhen", "hangzhou"]


@pytest.fixture(scope="module")
def audit(tmp_path_factory: pytest.TempPathFactory) -> AuditChain:
    return build_audit_chain(tmp_path_factory.mktemp("observer"), block_count=3)


class Watch:
    """A follower over an empty chain store of the audit chain's genesis, with what it committed."""

    def __init__(self, audit: AuditChain) -> None:
        genesis = audit.genesis
        changes = compute_genesis_changes(genesis)
        self.chain = ChainStore(MemoryStore())
        self.chain.initialize(genesis.hash, changes)
        self.committed: list[int] = []
        links = [
            HubLink(
                hub,
                f"wss://{hub}/p2p/observer",
                cast(aiohttp.ClientSession, None),
                ssl.create_default_context(),
            )
            for hub in HUBS
        ]
        self.follower = Follower(
            genesis=genesis,
            chain=self.chain,
            application=LedgerApplication(chain=self.chain, chain_id=genesis.chain_id),
            links=links,
            alerts=TamperAlerts(),
            on_commit=lambda block, certificate, receipts: self.committed.append(block.height),
            poll_interval_ms=500,
            request_timeout_ms=1000,
        )

    def alerts(self) -> list[tuple[str, str, int]]:
        return [(alert.hub, alert.reason, alert.height) for alert in reversed(self.follower.alerts.recent)]


def encode_answer(blocks: list[tuple[Block, CommitCertificate]]) -> bytes:
    return cbor.encode({"blocks": [[block.encode(), certificate.encode()] for block, certificate in blocks]})


def test_an_honest_answer_is_verified_and_committed(audit: AuditChain) -> None:
    watch = Watch(audit)
    watch.follower.accept("beijing", encode_answer(audit.blocks))
    assert watch.committed == [1, 2, 3]
    assert watch.chain.get_latest_hash() == audit.blocks[-1][0].hash
    assert watch.alerts() == []
    assert watch.follower.hubs["beijing"].height == 3
    watch.follower.accept("shanghai", encode_answer(audit.blocks[2:]))  # the latest again: no news
    assert watch.follower.hubs["shanghai"].claimed == 3 and watch.committed == [1, 2, 3]


def test_a_forged_block_is_an_alert_naming_the_hub_and_the_honest_hubs_are_still_followed(
    audit: AuditChain,
) -> None:
    watch = Watch(audit)
    block, certificate = audit.blocks[1]
    forged_header = dataclasses.replace(block.header, timestamp_ms=TimestampMs(block.header.timestamp_ms + 1))
    forged = [audit.blocks[0], (Block(forged_header, block.transactions), certificate)]
    watch.follower.accept("hangzhou", encode_answer(forged))
    assert watch.alerts() == [("hangzhou", "bad_certificate", 2)]
    assert watch.committed == [1]  # the block before the forged one proved itself and stays
    watch.follower.accept("beijing", encode_answer(audit.blocks[1:]))
    assert watch.committed == [1, 2, 3]
    assert watch.follower.alerts.count_for("beijing") == 0


def test_a_certified_block_whose_execution_differs_from_its_header_is_an_alert(audit: AuditChain) -> None:
    watch = Watch(audit)
    block, _ = audit.blocks[0]
    # Even signed by a quorum: the transactions out of nonce order cannot execute as the header says.
    shuffled = tuple(reversed(block.transactions))
    header = dataclasses.replace(block.header, transactions_root=compute_transactions_root(shuffled))
    watch.follower.accept("shenzhen", encode_answer([(Block(header, shuffled), audit.certify(header))]))
    assert watch.alerts() == [("shenzhen", "execution_mismatch", 1)]
    assert watch.committed == [] and watch.chain.latest_height() == 0


def test_a_block_other_than_the_one_verified_at_its_height_is_a_conflict(audit: AuditChain) -> None:
    watch = Watch(audit)
    watch.follower.accept("beijing", encode_answer(audit.blocks[:2]))
    block, certificate = audit.blocks[1]
    other = dataclasses.replace(block.header, timestamp_ms=TimestampMs(block.header.timestamp_ms + 5))
    watch.follower.accept("hangzhou", encode_answer([(Block(other, block.transactions), certificate)]))
    assert watch.alerts() == [("hangzhou", "conflicting_block", 2)]
    watch.follower.accept("hangzhou", b"\xff not cbor")
    assert watch.alerts()[-1] == ("hangzhou", "malformed_answer", 0)
    assert watch.follower.alerts.counts[("hangzhou", "conflicting_block")] == 1
    assert watch.committed == [1, 2]


def test_an_answer_that_skips_heights_is_refused(audit: AuditChain) -> None:
    watch = Watch(audit)
    watch.follower.accept("shanghai", encode_answer(audit.blocks[2:]))
    assert watch.alerts() == [("shanghai", "out_of_order", 3)]
    assert watch.committed == []


OBSERVER_MISTAKES = [
    ('role = "observer"', 'role = "auditor"', "node.role must be validator or observer"),
    (
        'genesis_file = "genesis.json"',
        'genesis_file = "genesis.json"\nkey_file = "keys/beijing.pem"',
        "node.key_file must not be set for an observer",
    ),
    ("[p2p.peers]", "[p2p.ignored]", "unknown field(s): ignored"),
    ("[observer]", "[observer]\nrequest_timeout_ms = 5", "observer.request_timeout_ms must be at least 100"),
]


def test_netgen_writes_an_observer_config_that_loads(audit: AuditChain) -> None:
    config = load_config(audit.directory / observer_config_name("regulator"), environ={})
    assert config.is_observer and config.node.key_file == Path()
    assert sorted(config.p2p.peers) == sorted(HUBS)
    assert all(url.endswith("/p2p/observer") for url in config.p2p.peers.values())


@pytest.mark.parametrize(("old", "new", "expected"), OBSERVER_MISTAKES)
def test_observer_config_mistakes_are_named(
    audit: AuditChain, tmp_path: Path, old: str, new: str, expected: str
) -> None:
    text = (audit.directory / observer_config_name("regulator")).read_text()
    assert old in text
    path = tmp_path / "observer.toml"
    path.write_text(text.replace(old, new))
    with pytest.raises(ConfigError) as caught:
        load_config(path, environ={})
    assert expected in caught.value.message


def test_an_observer_without_hubs_is_refused(audit: AuditChain, tmp_path: Path) -> None:
    text = (audit.directory / observer_config_name("regulator")).read_text()
    path = tmp_path / "observer.toml"
    path.write_text(text.split("[p2p.peers]")[0])
    with pytest.raises(ConfigError, match=r"p2p\.peers must name at least one hub"):
        load_config(path, environ={})


def test_a_hub_that_goes_on_lying_is_counted_every_time_and_logged_once_a_minute() -> None:
    alerts = TamperAlerts()
    with structlog.testing.capture_logs() as logged:
        for height in (5, 6, 7):
            alerts.raise_alert("hangzhou", "bad_certificate", height, "the certificate is for another block")
        alerts.raise_alert("hangzhou", "conflicting_block", 7, "another block 7")
    assert alerts.counts[("hangzhou", "bad_certificate")] == 3 and alerts.total == 4
    lines = [(line["log_level"], line["hub"], line["reason"]) for line in logged]
    assert lines == [("error", "hangzhou", "bad_certificate"), ("error", "hangzhou", "conflicting_block")]
    assert [alert.height for alert in alerts.recent] == [7, 7, 6, 5]
