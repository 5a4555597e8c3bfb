"""How a client trusts a hub's API: the network's CA certificate, found the same way by every tool.

A HubLedger network has its own certificate authority (``tls/ca.crt`` in the
network directory netgen writes); a client checks the hub's certificate
against it, not against the public CAs of the operating system. The CA file
is, in order: the one given (``--ca FILE``), the environment variable
``HUBLEDGER_CA``, ``<network dir>/tls/ca.crt`` when a network directory is
known, and ``.localnet/tls/ca.crt`` (what ``make run`` writes) when it exists.
With none of them, the system's CAs are used, which suits a hub behind a
publicly certified proxy. A client certificate (a bank's, the regulator's, an
operator's) is presented when one is given.
"""

from __future__ import annotations

import os
import ssl
from collections.abc import Mapping
from pathlib import Path

CA_ENVIRONMENT_VARIABLE = "HUBLEDGER_CA"
LOCALNET_DIRECTORY = Path(".localnet")


class TlsSetupError(OSError):
    """Raised when a CA or client certificate file given to the client cannot be used; says which and why."""


def find_ca_file(
    ca_file: Path | None = None,
    *,
    network_dir: Path | None = None,
    environ: Mapping[str, str] | None = None,
) -> Path | None:
    """The CA certificate to trust, by the order in this module's docstring; None: the system's."""
    if ca_file is not None:
        return ca_file
    from_environment = (os.environ if environ is None else environ).get(CA_ENVIRONMENT_VARIABLE, "")
    if from_environment:
        return Path(from_environment)
    for directory in (network_dir, LOCALNET_DIRECTORY):
        if directory is not None and (directory / "tls" / "ca.crt").is_file():
            return directory / "tls" / "ca.crt"
    return None


def make_client_context(
    ca_file: Path | None,
    *,
    certificate_file: Path | None = None,
    key_file: Path | None = None,
) -> ssl.SSLContext:
    """A context that checks the hub's certificate and name against ``ca_file`` (or the system's CAs)."""
    try:
        context = ssl.create_default_context(cafile=str(ca_file) if ca_file is not None else None)
    except (OSError, ssl.SSLError) as error:
        raise TlsSetupError(f"cannot use {ca_file} as the network's CA certificate: {error}") from None
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    if certificate_file is not None:
        try:
            context.load_cert_chain(certificate_file, key_file)
        except (OSError, ssl.SSLError) as error:
            raise TlsSetupError(f"cannot use the client certificate {certificate_file}: {error}") from None
    return context


def make_default_context(*, network_dir: Path | None = None) -> ssl.SSLContext:
    """The context of ``find_ca_file()``, for callers that were given no CA."""
    return make_client_context(find_ca_file(network_dir=network_dir))
