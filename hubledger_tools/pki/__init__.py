"""The network's public-key infrastructure for TLS: a CA, hub and client certificates, a revocation list.

API (tools only; the node reads the files, it never imports this package):

- ``NetworkPki.create(PkiLayout.of(network_dir), network_name)`` makes the CA
  (ECDSA P-256, self-signed, 10 years), writes ``tls/ca.crt``, the key in
  ``ca-offline/ca.key`` with a README saying it belongs offline, an empty
  record and an empty CRL (``tls/crl.pem``).
- ``NetworkPki.load(layout)`` opens an existing CA (needs ``ca-offline/``).
- ``pki.issue(Identity(Role.HUB, "beijing"), dns_names=[...], ip_addresses=[...])``
  gives a hub a fresh key and certificate (serverAuth + clientAuth), written to
  ``tls/hubs/beijing.{crt,key}``; ``pki.issue(Identity(Role.BANK, "beijing"))``,
  ``Role.REGULATOR`` and ``Role.OPERATOR`` give client certificates (clientAuth),
  written to ``tls/clients/<role>-<name>.{crt,key}`` (``regulator.{crt,key}``
  when the name is the role's). Issuing again for the same identity renews:
  new key, new serial, the old certificate stays valid until revoked.
- ``pki.revoke(serial_number)`` records a revocation and rewrites ``tls/crl.pem``
  with a CRL number one higher; ``pki.write_crl()`` re-signs the list alone
  (to push its next-update date forward).
- ``pki.read_registry()`` lists every certificate issued, with its identity,
  expiry and revocation time (``ca-offline/issued.json``).
- ``CertificateAuthority`` (authority.py) builds the X.509 objects without
  touching disk, with ``now`` as an argument for tests.

Every certificate names its holder once as ``hubledger://<role>/<name>`` in its
subject alternative names (``ledger.tls_identity``); that is what a hub checks
on a peer and what the admin endpoints check on an operator.
"""

from hubledger_tools.pki.authority import CertificateAuthority, Revocation
from hubledger_tools.pki.files import IssuedCertificate, NetworkPki, PkiLayout

__all__ = ["CertificateAuthority", "IssuedCertificate", "NetworkPki", "PkiLayout", "Revocation"]
