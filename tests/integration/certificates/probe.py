"""What a hub shows from outside: the certificate it presents, and its metrics."""

from __future__ import annotations

import socket
import ssl
import urllib.request
from pathlib import Path

from cryptography import x509
from prometheus_client.parser import text_string_to_metric_families

from tests.integration.harness import LocalNetwork

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def get_presented_certificate(
    port: int, ca_file: Path, client: tuple[Path, Path] | None = None
) -> x509.Certificate:
    """The certificate a new TLS connection to 127.0.0.1:``port`` is shown (checked against ``ca_file``)."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.load_verify_locations(ca_file)
    if client is not None:
        context.load_cert_chain(*client)
    with (
        socket.create_connection(("127.0.0.1", port), timeout=5) as raw,
        context.wrap_socket(raw) as tls,
    ):
        der = tls.getpeercert(binary_form=True)
    assert der is not None
    return x509.load_der_x509_certificate(der)


def scrape(network: LocalNetwork, hub: str) -> Samples:
    """Every sample of ``hub``'s /metrics, by name and labels."""
    with urllib.request.urlopen(network.url(hub) + "/metrics", timeout=5, context=network.context) as answer:
        text = answer.read().decode()
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def get_sample(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)
