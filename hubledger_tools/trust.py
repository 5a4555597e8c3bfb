"""One TLS client context that trusts the CA of every network this process generated.

The tools that make a network and then drive it (chaos, bench, the test
harness) talk to hubs of one or several networks, each with its own CA made
by netgen. Rather than thread a context through every request, they add each
network's CA here when they generate it, and their requests check hubs
against this context: a hub of any other CA is still refused.
"""

from __future__ import annotations

import ssl
from pathlib import Path
from typing import Any

from hubledger_client import json_http
from hubledger_tools.pki import PkiLayout

GENERATED_NETWORKS = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)  # checks names and certificates


def trust_network(network_dir: Path) -> Path:
    """Trust the CA of the network in ``network_dir``; returns its CA certificate's path."""
    ca_file = PkiLayout.of(network_dir).ca_certificate
    GENERATED_NETWORKS.load_verify_locations(ca_file)
    return ca_file


def http_json(url: str, body: Any = None, **options: Any) -> tuple[int, Any]:
    """json_http.http_json, checking the hub against the CAs of the networks generated here."""
    options.setdefault("context", GENERATED_NETWORKS)
    return json_http.http_json(url, body, **options)
