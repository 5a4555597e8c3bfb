"""GET /metrics parses with Prometheus' own parser and carries every number an operator watches."""

from __future__ import annotations

import re
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

from contracts.queries import get_total_supply
from hubledger_tools.pki import NetworkPki, PkiLayout
from ledger.receipt import Receipt
from ledger.tls_identity import Identity, Role
from node.certificate_expiry import CertificateExpiry
from node.metrics import NodeMetrics
from node.service import Node
from p2p.tls import TlsFiles
from tests.unit.node.audit_chain import build_audit_chain

EXPECTED = {
    "hubledger_chain_height": "gauge",
    "hubledger_view": "gauge",
    "hubledger_is_primary": "gauge",
    "hubledger_stable_checkpoint_height": "gauge",
    "hubledger_transactions_committed": "counter",
    "hubledger_blocks_committed": "counter",
    "hubledger_block_commit_latency_seconds": "histogram",
    "hubledger_block_size_bytes": "histogram",
    "hubledger_block_transactions": "histogram",
    "hubledger_view_changes": "counter",
    "hubledger_state_transfers": "counter",
    "hubledger_liveness_events": "counter",
    "hubledger_state_transfer_in_progress": "gauge",
    "hubledger_peers_connected": "gauge",
    "hubledger_validators": "gauge",
    "hubledger_quorum": "gauge",
    "hubledger_p2p_messages": "counter",
    "hubledger_p2p_bytes": "counter",
    "hubledger_p2p_link_frames": "counter",
    "hubledger_p2p_link_bytes": "counter",
    "hubledger_p2p_link_up": "gauge",
    "hubledger_p2p_handshakes_refused": "counter",
    "hubledger_messages_dropped": "counter",
    "hubledger_mempool_transactions": "gauge",
    "hubledger_evidence_recorded": "counter",
    "hubledger_cbdc_total_supply_fen": "gauge",
    "hubledger_cbdc_locked_in_escrow_fen": "gauge",
}


Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def make_tls_files(directory: Path) -> TlsFiles:
    """A hub's TLS files from a network's own CA, as netgen writes them."""
    pki = NetworkPki.create(PkiLayout.of(directory), "metrics-test")
    hub = Identity(Role.HUB, "beijing")
    pki.issue(hub, dns_names=("localhost",))
    layout = pki.layout
    return TlsFiles(layout.ca_certificate, layout.certificate(hub), layout.key(hub), layout.crl)


def scrape(metrics: NodeMetrics) -> dict[str, Samples]:
    return {
        family.name: {
            (sample.name, tuple(sorted(sample.labels.items()))): sample.value for sample in family.samples
        }
        for family in text_string_to_metric_families(metrics.render().decode())
    }


def scrape_types(metrics: NodeMetrics) -> dict[str, str]:
    return {family.name: family.type for family in text_string_to_metric_families(metrics.render().decode())}


def test_every_metric_is_exposed_with_its_type_and_a_prefix(node: Node) -> None:
    types = scrape_types(NodeMetrics(node))
    assert {name: types.get(name) for name in EXPECTED} == EXPECTED
    assert all(name.startswith("hubledger_") for name in types)


def test_every_metric_an_alert_rule_reads_is_exported(node: Node, tmp_path: Path) -> None:
    """A renamed metric would leave its alert silent forever: monitoring/alerts.yml is checked here.
    The node's registry as node/runner.py fills it: NodeMetrics and the certificates' expiry."""
    rules = (Path(__file__).resolve().parents[3] / "monitoring" / "alerts.yml").read_text()
    read = set(re.findall(r"\bhubledger_[a-z_]+", rules))
    metrics = NodeMetrics(node)
    metrics.registry.register(CertificateExpiry(make_tls_files(tmp_path)))
    exported = {name for samples in scrape(metrics).values() for name, _ in samples}
    assert read, "monitoring/alerts.yml reads no hubledger metric"
    assert read <= exported, f"alert rules read metrics the node does not export: {sorted(read - exported)}"


def test_values_match_the_node(node: Node) -> None:
    families = scrape(NodeMetrics(node))
    supply = get_total_supply(node.application.committed_state)
    assert supply > 0
    assert families["hubledger_cbdc_total_supply_fen"][("hubledger_cbdc_total_supply_fen", ())] == supply
    assert families["hubledger_chain_height"][("hubledger_chain_height", ())] == 0
    assert families["hubledger_is_primary"][("hubledger_is_primary", ())] == 1  # beijing leads view 0
    assert families["hubledger_validators"][("hubledger_validators", ())] == 4
    up = families["hubledger_p2p_link_up"]
    assert up == {
        ("hubledger_p2p_link_up", (("peer", name),)): 0 for name in ("shanghai", "shenzhen", "hangzhou")
    }


def test_a_commit_feeds_the_histograms_and_counters(node: Node, tmp_path: Path) -> None:
    metrics = NodeMetrics(node)
    block, certificate = build_audit_chain(tmp_path / "chain", block_count=1).blocks[0]
    receipts = [
        Receipt(success=True),
        Receipt(success=True),
        Receipt(success=False, code="INSUFFICIENT_FUNDS"),
    ]
    metrics.on_commit(block, certificate, receipts)
    families = scrape(metrics)
    outcomes = families["hubledger_transactions_committed"]
    assert outcomes[("hubledger_transactions_committed_total", (("outcome", "success"),))] == 2
    assert outcomes[("hubledger_transactions_committed_total", (("outcome", "failure"),))] == 1
    sizes = families["hubledger_block_size_bytes"]
    assert sizes[("hubledger_block_size_bytes_sum", ())] == len(block.encode())
    assert families["hubledger_block_transactions"][("hubledger_block_transactions_count", ())] == 1
    latency = families["hubledger_block_commit_latency_seconds"]
    assert latency[("hubledger_block_commit_latency_seconds_count", ())] == 1


def test_consensus_traffic_is_counted_by_type_and_direction(node: Node) -> None:
    metrics = NodeMetrics(node)
    node.traffic.on_sent("prepare", 200, copies=3)
    node.traffic.on_received("commit", 150)
    families = scrape(metrics)
    messages, payload = families["hubledger_p2p_messages"], families["hubledger_p2p_bytes"]
    sent = (("direction", "sent"), ("type", "prepare"))
    received = (("direction", "received"), ("type", "commit"))
    assert messages[("hubledger_p2p_messages_total", sent)] == 3
    assert payload[("hubledger_p2p_bytes_total", sent)] == 600
    assert messages[("hubledger_p2p_messages_total", received)] == 1
    assert payload[("hubledger_p2p_bytes_total", received)] == 150
