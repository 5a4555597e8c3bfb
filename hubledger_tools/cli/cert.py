"""``hubledger cert issue|renew|revoke|crl|list``: the network's certificates after netgen.

Every command takes the network directory (``--network``, where tls/ lives)
and the CA's offline directory (``--ca-offline``, by default
``<network>/ca-offline``); hubs pick up what changed on SIGHUP
(docs/operators.md, "Certificates"). Arguments are checked by the shared
types before the CA is opened; a request the CA cannot do (no certificate to
renew, nothing to revoke) is one line and exit status 2, as every command's.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from cryptography import x509

from hubledger_tools.cli import arguments as types
from hubledger_tools.cli.common import add_json_argument, print_json
from hubledger_tools.cli.errors import ExitStatus
from hubledger_tools.pki.files import IssuedCertificate, NetworkPki
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
DAYS = types.WholeNumber(1, 36_500, "a number of days")


def add_cert_command(commands: Any) -> None:
    cert = commands.add_parser("cert", help="issue, renew, revoke and list the network's TLS certificates")
    actions = cert.add_subparsers(dest="action", required=True, metavar="ACTION")
    issue = actions.add_parser(
        "issue", help="a fresh key and certificate for a hub, bank, operator, regulator"
    )
    _add_party(issue)
    issue.add_argument(
        "--dns", type=types.dns_name, action="append", default=[], metavar="NAME",
        help="a DNS name of a hub (repeatable; default: none)",
    )  # fmt: skip
    issue.add_argument(
        "--ip", type=types.ip_address, action="append", default=[], metavar="ADDRESS",
        help="an IP address of a hub (repeatable; default: none)",
    )  # fmt: skip
    _add_days(issue)
    issue.set_defaults(handler=_issue)
    renew = actions.add_parser("renew", help="issue a party again with the same names, valid from today")
    _add_party(renew)
    _add_days(renew)
    renew.set_defaults(handler=_renew)
    revoke = actions.add_parser("revoke", help="revoke a party's live certificates and rewrite tls/crl.pem")
    _add_party(revoke, required=False)
    revoke.add_argument(
        "--serial", type=types.serial_number, metavar="HEX",
        help="revoke only this serial number (hex, as `cert list` shows it)",
    )  # fmt: skip
    revoke.set_defaults(handler=_revoke)
    crl = actions.add_parser("crl", help="sign the revocation list again (a year on), revoking nothing new")
    _add_locations(crl)
    crl.set_defaults(handler=_crl)
    listing = actions.add_parser("list", help="every certificate the CA issued, with expiry and revocation")
    _add_locations(listing)
    listing.set_defaults(handler=_list)


def _add_party(parser: argparse.ArgumentParser, *, required: bool = True) -> None:
    parser.add_argument("role", choices=ROLES, nargs=None if required else "?", help="what the holder is")
    parser.add_argument(
        "name", type=types.party_name, nargs=None if required else "?",
        help="hub name (regulator: regulator); lowercase letters, digits and dashes",
    )  # fmt: skip
    _add_locations(parser)


def _add_days(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--days", type=DAYS, default=365, metavar="DAYS", help="validity in days (default 365)"
    )


def _add_locations(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--network", type=types.existing_directory, required=True, metavar="DIR",
        help="the network directory (holds tls/)",
    )  # fmt: skip
    parser.add_argument(
        "--ca-offline", type=types.existing_directory, metavar="DIR",
        help="the CA's offline directory (default: <network>/ca-offline)",
    )  # fmt: skip
    add_json_argument(parser)


def _open(arguments: argparse.Namespace) -> NetworkPki:
    offline = arguments.ca_offline or arguments.network / "ca-offline"
    return open_pki(arguments.network, offline)


def _issue(arguments: argparse.Namespace) -> int:
    identity = parse_identity(arguments.role, arguments.name)
    pki = _open(arguments)
    hosts = HostNames(tuple(arguments.dns), tuple(arguments.ip))
    certificate = issue_certificate(pki, identity, hosts, valid_days=arguments.days)
    _print_issued(arguments, pki.layout.certificate(identity), certificate)
    return ExitStatus.OK


def _renew(arguments: argparse.Namespace) -> int:
    identity = parse_identity(arguments.role, arguments.name)
    pki = _open(arguments)
    old, new = renew_certificate(pki, identity, valid_days=arguments.days)
    _print_issued(arguments, pki.layout.certificate(identity), new, old=old)
    return ExitStatus.OK


def _revoke(arguments: argparse.Namespace) -> int:
    if (arguments.role is None) == (arguments.serial is None):
        raise CertificateCommandError("name a party (ROLE NAME) or a --serial to revoke, not both")
    if arguments.role is not None and arguments.name is None:
        raise CertificateCommandError(f"name the {arguments.role} to revoke: ROLE NAME")
    identity = None if arguments.role is None else parse_identity(arguments.role, arguments.name)
    pki = _open(arguments)
    revoked = revoke_certificates(pki, identity=identity, serial_number=arguments.serial)
    if arguments.json:
        print_json({"revoked": [_describe(record) for record in revoked], "crl": pki.layout.crl})
        return ExitStatus.OK
    for record in revoked:
        print(f"revoked {record.identity} serial {record.serial_number:x}")
    print(f"wrote {pki.layout.crl}: copy it to every hub's tls/crl.pem and send each node SIGHUP")
    return ExitStatus.OK


def _crl(arguments: argparse.Namespace) -> int:
    pki = _open(arguments)
    crl = pki.write_crl()
    if arguments.json:
        print_json({"crl": pki.layout.crl, "next_update": f"{crl.next_update_utc:%Y-%m-%d}"})
        return ExitStatus.OK
    print(f"wrote {pki.layout.crl}: valid until {crl.next_update_utc:%Y-%m-%d}; copy it to every hub")
    return ExitStatus.OK


def _list(arguments: argparse.Namespace) -> int:
    records, number = _open(arguments).read_registry()
    if arguments.json:
        print_json({"crl_number": number, "certificates": [_describe(record) for record in records]})
        return ExitStatus.OK
    print(f"revocation list number {number}")
    for record in records:
        state = f"revoked {record.revoked_at:%Y-%m-%d %H:%M}" if record.revoked_at else "live"
        until = f"{record.not_after:%Y-%m-%d}"
        print(f"  {record.serial_number:40x}  {record.identity:<32} until {until}  {state}")
    return ExitStatus.OK


def _describe(record: IssuedCertificate) -> dict[str, Any]:
    return {
        "serial": f"{record.serial_number:x}",
        "identity": record.identity,
        "not_after": f"{record.not_after:%Y-%m-%d}",
        "revoked_at": None if record.revoked_at is None else f"{record.revoked_at:%Y-%m-%d %H:%M}",
    }


def _print_issued(
    arguments: argparse.Namespace, path: Path, certificate: x509.Certificate, *, old: Any = None
) -> None:
    serial, until = f"{certificate.serial_number:x}", f"{certificate.not_valid_after_utc:%Y-%m-%d}"
    if arguments.json:
        document: dict[str, Any] = {"certificate": path, "serial": serial, "not_after": until}
        if old is not None:
            document["old_serial"] = f"{old.serial_number:x}"
        print_json(document)
        return
    print(f"wrote {path} (and its key): serial {serial}, valid until {until}")
    if old is not None:
        print(
            f"  the old certificate (serial {old.serial_number:x}) stays valid until "
            f"{old.not_valid_after_utc:%Y-%m-%d}; once the holder reloads, revoke it with "
            f"`hubledger cert revoke --serial {old.serial_number:x}`"
        )
