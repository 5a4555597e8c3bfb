"""``hubledger cert issue|renew|revoke|crl|list``: the network's certificates after netgen.

Every command takes the network directory (``--network``, where tls/ lives)
and the CA's offline directory (``--ca-offline``, by default
``<network>/ca-offline``); hubs pick up what changed on SIGHUP
(docs/operators.md, "Certificates").
"""

from __future__ import annotations

import argparse
import ipaddress
from pathlib import Path
from typing import Any

from cryptography import x509

from hubledger_tools.pki.lifecycle import (
    CertificateCommandError,
    HostNames,
    issue_certificate,
    open_pki,
    parse_identity,
    renew_certificate,
    revoke_certificates,
)
from ledger.tls_identity import Role

ROLES = [role.value for role in Role]


def add_cert_command(commands: Any) -> None:
    cert = commands.add_parser("cert", help="issue, renew, revoke and list the network's TLS certificates")
    actions = cert.add_subparsers(dest="action", required=True, metavar="ACTION")
    issue = actions.add_parser(
        "issue", help="a fresh key and certificate for a hub, bank, operator, regulator"
    )
    _add_party(issue)
    issue.add_argument("--dns", action="append", default=[], help="a DNS name of a hub (repeatable)")
    issue.add_argument("--ip", action="append", default=[], help="an IP address of a hub (repeatable)")
    issue.add_argument("--days", type=int, default=365, help="validity in days (default 365)")
    issue.set_defaults(handler=_issue)
    renew = actions.add_parser("renew", help="issue a party again with the same names, valid from today")
    _add_party(renew)
    renew.add_argument("--days", type=int, default=365, help="validity in days (default 365)")
    renew.set_defaults(handler=_renew)
    revoke = actions.add_parser("revoke", help="revoke a party's live certificates and rewrite tls/crl.pem")
    _add_party(revoke, required=False)
    revoke.add_argument("--serial", help="revoke only this serial number (hex, as `cert list` shows it)")
    revoke.set_defaults(handler=_revoke)
    crl = actions.add_parser("crl", help="sign the revocation list again (a year on), revoking nothing new")
    _add_locations(crl)
    crl.set_defaults(handler=_crl)
    listing = actions.add_parser("list", help="every certificate the CA issued, with expiry and revocation")
    _add_locations(listing)
    listing.set_defaults(handler=_list)


def _add_party(parser: argparse.ArgumentParser, *, required: bool = True) -> None:
    parser.add_argument("role", choices=ROLES, nargs=None if required else "?", help="what the holder is")
    parser.add_argument("name", nargs=None if required else "?", help="hub name (regulator: regulator)")
    _add_locations(parser)


def _add_locations(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--network", type=Path, required=True, help="the network directory (holds tls/)")
    parser.add_argument(
        "--ca-offline", type=Path, help="the CA's offline directory (default: <network>/ca-offline)"
    )


def _open(arguments: argparse.Namespace) -> Any:
    offline = arguments.ca_offline or arguments.network / "ca-offline"
    return open_pki(arguments.network, offline)


def _issue(arguments: argparse.Namespace) -> int:
    identity = parse_identity(arguments.role, arguments.name)
    try:
        addresses = tuple(ipaddress.ip_address(text) for text in arguments.ip)
    except ValueError as error:
        raise CertificateCommandError(f"--ip: {error}") from None
    pki = _open(arguments)
    certificate = issue_certificate(
        pki, identity, HostNames(tuple(arguments.dns), addresses), valid_days=arguments.days
    )
    _print_issued(pki.layout.certificate(identity), certificate)
    return 0


def _renew(arguments: argparse.Namespace) -> int:
    identity = parse_identity(arguments.role, arguments.name)
    pki = _open(arguments)
    old, new = renew_certificate(pki, identity, valid_days=arguments.days)
    _print_issued(pki.layout.certificate(identity), new)
    print(
        f"  the old certificate (serial {old.serial_number:x}) stays valid until "
        f"{old.not_valid_after_utc:%Y-%m-%d}; once the holder reloads, revoke it with "
        f"`hubledger cert revoke --serial {old.serial_number:x}`"
    )
    return 0


def _revoke(arguments: argparse.Namespace) -> int:
    if (arguments.role is None) == (arguments.serial is None):
        raise CertificateCommandError("name a party (ROLE NAME) or a --serial to revoke, not both")
    identity = None if arguments.role is None else parse_identity(arguments.role, arguments.name or "")
    try:
        serial = None if arguments.serial is None else int(arguments.serial, 16)
    except ValueError:
        raise CertificateCommandError(f"--serial {arguments.serial!r} is not a hex number") from None
    pki = _open(arguments)
    for record in revoke_certificates(pki, identity=identity, serial_number=serial):
        print(f"revoked {record.identity} serial {record.serial_number:x}")
    print(f"wrote {pki.layout.crl}: copy it to every hub's tls/crl.pem and send each node SIGHUP")
    return 0


def _crl(arguments: argparse.Namespace) -> int:
    pki = _open(arguments)
    crl = pki.write_crl()
    print(f"wrote {pki.layout.crl}: valid until {crl.next_update_utc:%Y-%m-%d}; copy it to every hub")
    return 0


def _list(arguments: argparse.Namespace) -> int:
    records, number = _open(arguments).read_registry()
    print(f"revocation list number {number}")
    for record in records:
        state = f"revoked {record.revoked_at:%Y-%m-%d %H:%M}" if record.revoked_at else "live"
        until = f"{record.not_after:%Y-%m-%d}"
        print(f"  {record.serial_number:40x}  {record.identity:<32} until {until}  {state}")
    return 0


def _print_issued(path: Path, certificate: x509.Certificate) -> None:
    print(
        f"wrote {path} (and its key): serial {certificate.serial_number:x}, "
        f"valid until {certificate.not_valid_after_utc:%Y-%m-%d}"
    )
