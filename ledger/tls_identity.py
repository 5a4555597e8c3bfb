"""Who a network TLS certificate speaks for: one convention shared by the issuer and every verifier.

Every certificate the network's CA issues names exactly one party in a
subject alternative name of the form ``hubledger://<role>/<name>``:

- ``hub``: a hub's validator node (its peer links and its client API);
- ``bank``: a hub bank's application;
- ``regulator``: the regulator's tools (signed reads, audits);
- ``observer``: a node that follows and re-executes the chain without voting (the
  regulator's observer): hubs answer its block fetches and refuse anything else from it;
- ``operator``: a person who runs a hub and may call its admin endpoints.

A name is in the SAN rather than only in the subject's common name because a
SAN is typed and cannot be confused with a DNS name: a peer that presents a
certificate naming ``hubledger://hub/shanghai`` is Shanghai's node, whatever
host name it also carries. The subject keeps the same name as its common name
and the role as its organisational unit, for people reading ``openssl x509``.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from cryptography import x509

from ledger.errors import LedgerError

IDENTITY_SCHEME = "hubledger"


class Role(StrEnum):
    """What a certificate's holder may do: the second part of its identity URI."""

    HUB = "hub"
    BANK = "bank"
    REGULATOR = "regulator"
    OBSERVER = "observer"
    OPERATOR = "operator"


class IdentityInvalid(LedgerError):
    """Raised when a certificate names no HubLedger party, or more than one."""

    code = "BAD_CERTIFICATE_IDENTITY"


@dataclass(frozen=True, slots=True)
class Identity:
    """The one party a certificate speaks for."""

    role: Role
    name: str

    @property
    def uri(self) -> str:
        return f"{IDENTITY_SCHEME}://{self.role.value}/{self.name}"

    def __str__(self) -> str:
        return self.uri


def validate_name(name: str) -> None:
    """Raise ``IdentityInvalid`` unless ``name`` is lowercase letters, digits and dashes."""
    if not name or not name.replace("-", "").isalnum() or not name.isascii() or name.lower() != name:
        raise IdentityInvalid(f"identity name {name!r} must be lowercase letters, digits and dashes")


def parse_identity_uri(uri: str) -> Identity:
    """The identity a ``hubledger://<role>/<name>`` URI names; raises ``IdentityInvalid`` otherwise."""
    prefix = f"{IDENTITY_SCHEME}://"
    if not uri.startswith(prefix):
        raise IdentityInvalid(f"{uri!r} is not a {prefix} identity")
    role_text, _, name = uri[len(prefix) :].partition("/")
    try:
        role = Role(role_text)
    except ValueError:
        raise IdentityInvalid(f"{uri!r} names unknown role {role_text!r}") from None
    validate_name(name)
    return Identity(role, name)


def get_identity(certificate: x509.Certificate) -> Identity:
    """The single HubLedger identity in ``certificate``'s SANs; raises ``IdentityInvalid`` otherwise."""
    try:
        names = certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        raise IdentityInvalid("the certificate has no subject alternative names") from None
    uris = [uri for uri in names.get_values_for_type(x509.UniformResourceIdentifier)]
    identities = [parse_identity_uri(uri) for uri in uris if uri.startswith(f"{IDENTITY_SCHEME}://")]
    if len(identities) != 1:
        raise IdentityInvalid(f"the certificate names {len(identities)} HubLedger identities, not one")
    return identities[0]
