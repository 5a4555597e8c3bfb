"""The argument types of the ``hubledger`` subcommands: every value is checked before anything is sent.

argparse calls each with the text as typed; a bad value raises
ArgumentTypeError with a sentence in the user's own terms (argparse prefixes
the flag as typed, ``argument --amount:``), amounts in fen as they are typed.
Nothing reaches a node, so a bad amount burns neither a block nor a nonce.
The ranges are the contracts' own (1 to 2^63 - 1 for an amount), so what
passes here is refused by a node only for a reason the node alone knows.
"""

from __future__ import annotations

import argparse
import ipaddress
import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar
from urllib.parse import urlsplit

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from hubledger_tools.bundles import validate_host
from hubledger_tools.pki.authority import IpAddress
from ledger.errors import KeyInvalid, LedgerError
from ledger.keys import PrivateKey, PublicKey, load_public_pem
from ledger.tls_identity import IdentityInvalid, validate_name
from ledger.types import ADDRESS_BYTES, UINT63_MAX

DEFAULT_NODE_URL = "https://127.0.0.1:8101"
NODE_SCHEMES = ("http", "https")
BLOCKS_MAX = 10**9
ADDRESS_FORMAT = f"{2 * ADDRESS_BYTES} hex characters or @key.pem"
PUBLIC_KEY_FORMAT = "66 hex characters (compressed P-256) or @key.pem"
NO_LIMIT = "none"
T = TypeVar("T")
_HEX = re.compile(r"[0-9a-f]*")
_ID = re.compile(r"[A-Za-z0-9._:-]{1,64}")
_HUB = re.compile(r"[a-z0-9][a-z0-9_-]{0,63}")


def _refuse(message: str) -> argparse.ArgumentTypeError:
    return argparse.ArgumentTypeError(message)


def checked_by(parse: Callable[[str], T]) -> Callable[[str], T]:
    """An argument type from a parser that raises LedgerError (ConfigError) on bad text."""

    def parse_argument(text: str) -> T:
        try:
            return parse(text)
        except LedgerError as error:
            raise _refuse(error.message) from None

    parse_argument.__name__ = parse.__name__
    return parse_argument


@dataclass(frozen=True)
class WholeNumber:
    """An integer argument in [low, high]; ``what`` names it in the user's unit."""

    low: int
    high: int
    what: str

    def __call__(self, text: str) -> int:
        return whole_number(text, self.low, self.high, self.what)


def whole_number(text: str, low: int, high: int, what: str) -> int:
    digits = text.strip()
    if not re.fullmatch(r"-?[0-9]{1,25}", digits):  # longer is out of range, and slow to convert
        shown = repr(digits if len(digits) <= 30 else digits[:27] + "...")
        raise _refuse(f"{shown} is not {what}: a whole number from {low} to {high}")
    value = int(digits)
    if not low <= value <= high:
        raise _refuse(f"{value} is not {what}: a whole number from {low} to {high}")
    return value


@dataclass(frozen=True)
class Seconds:
    """A duration in seconds in [low, high]; not a number and infinity are refused."""

    low: float
    high: float

    def __call__(self, text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            value = math.nan
        if not self.low <= value <= self.high:  # false for nan as well
            raise _refuse(f"{text[:30]!r} is not a number of seconds from {self.low:g} to {self.high:g}")
        return value


amount_fen = WholeNumber(1, UINT63_MAX, "an amount in fen")
units = WholeNumber(1, UINT63_MAX, "a number of units")
height = WholeNumber(0, UINT63_MAX, "a block height")
first_height = WholeNumber(1, UINT63_MAX, "a block height")
blocks = WholeNumber(1, BLOCKS_MAX, "a number of blocks")  # a relative expiry
nonce = WholeNumber(0, UINT63_MAX, "a nonce")
port = WholeNumber(1, 65535 - 64, "a port")
_limit = WholeNumber(1, UINT63_MAX, f"a limit in fen (or {NO_LIMIT!r} to remove it)")


def limit_fen(text: str) -> int | None:
    """A transfer limit in fen, or ``none`` to remove the limit."""
    if text.strip().lower() == NO_LIMIT:
        return None
    return _limit(text)


def node_url(text: str) -> str:
    """A hub's client API URL: http:// or https://, a host and an optional port."""
    example = f"e.g. {DEFAULT_NODE_URL}"
    try:
        parts = urlsplit(text.strip())
        port = parts.port
    except ValueError as error:
        raise _refuse(f"{text!r} is not a URL ({error}); {example}") from None
    if parts.scheme not in NODE_SCHEMES or not parts.hostname:
        raise _refuse(f"{text!r} is not a URL starting with http:// or https://; {example}")
    if parts.path.strip("/") or parts.query or parts.fragment or parts.username:
        raise _refuse(f"{text!r} must name only a hub's scheme, host and port; {example}")
    if port == 0:
        raise _refuse(f"{text!r} names port 0; {example}")
    return f"{parts.scheme}://{parts.netloc}"


def key_file(text: str) -> PrivateKey:
    """A PEM private key file, loaded: the signer or reader."""
    return load_key(Path(text))


def load_key(path: Path) -> PrivateKey:
    try:
        data = path.read_bytes()
    except OSError as error:
        raise _refuse(f"cannot read key file {path}: {error.strerror or error}") from None
    try:
        return PrivateKey.from_pem(data)
    except KeyInvalid:
        raise _refuse(f"{path} is not a PEM private key (make one with hubledger keygen)") from None


def _public_key_of_file(path: Path) -> PublicKey:
    try:
        data = path.read_bytes()
    except OSError as error:
        raise _refuse(f"cannot read key file {path}: {error.strerror or error}") from None
    try:
        return PrivateKey.from_pem(data).public_key if b"PRIVATE KEY" in data else load_public_pem(data)
    except KeyInvalid:
        raise _refuse(f"{path} is not a PEM P-256 key (make one with hubledger keygen)") from None


def address(text: str) -> str:
    """An account address: 40 hex characters (0x allowed) or @key.pem for that key's address."""
    if text.startswith("@"):
        return _public_key_of_file(Path(text[1:])).address.hex()
    value = text.strip().lower().removeprefix("0x")
    if len(value) != 2 * ADDRESS_BYTES or not _HEX.fullmatch(value):
        raise _refuse(f"{text!r} is not an address: {ADDRESS_FORMAT}")
    return value


def public_key(text: str) -> str:
    if text.startswith("@"):
        return _public_key_of_file(Path(text[1:])).hex()
    value = text.strip().lower()
    if len(value) != 66 or not _HEX.fullmatch(value) or value[:2] not in ("02", "03"):
        raise _refuse(f"{text!r} is not a public key: {PUBLIC_KEY_FORMAT}")
    try:
        PublicKey(bytes.fromhex(value))
    except KeyInvalid:
        raise _refuse(f"{text!r} is not a point on P-256") from None
    return value


def identifier(text: str) -> str:
    """A DvP, escrow or security identifier, as the contracts accept it."""
    if not _ID.fullmatch(text):
        raise _refuse(f"{text!r} is not an identifier: 1 to 64 characters from A-Z a-z 0-9 . _ : -")
    return text


def hub_name(text: str) -> str:
    if not _HUB.fullmatch(text):
        raise _refuse(f"{text!r} is not a hub name: lowercase letters, digits, _ and -, up to 64")
    return text


def name(text: str) -> str:
    if not text or len(text) > 64 or not text.isprintable():
        raise _refuse(f"{text[:70]!r} is not a name: 1 to 64 printable characters")
    return text


def transaction_id(text: str) -> str:
    value = text.strip().lower()
    if len(value) != 64 or not _HEX.fullmatch(value):
        raise _refuse(f"{text!r} is not a transaction id: 64 hex characters")
    return value


def _existing(text: str, *, directory: bool) -> Path:
    kind = "a directory" if directory else "a file"
    path = Path(text)
    if not text:
        raise _refuse(f"an empty path names no {kind[2:]}")
    if not (path.is_dir() if directory else path.is_file()):
        raise _refuse(f"{text} {'is not ' + kind if path.exists() else 'does not exist'}")
    return path


def existing_file(text: str) -> Path:
    return _existing(text, directory=False)


def existing_directory(text: str) -> Path:
    return _existing(text, directory=True)


def _to_write(text: str, *, directory: bool) -> Path:
    """A path to write: not of the other kind, in a directory that exists."""
    kind, other = ("a directory", "a file") if directory else ("a file", "a directory")
    path = Path(text)
    if not text:
        raise _refuse(f"an empty path names no {kind[2:]} to write")
    if path.is_file() if directory else path.is_dir():
        raise _refuse(f"{text} is {other}, not {kind}")
    if not path.parent.is_dir():
        raise _refuse(f"cannot write {text}: directory {path.parent} does not exist")
    return path


def output_file(text: str) -> Path:
    """A file to write: its directory must exist."""
    return _to_write(text, directory=False)


def output_directory(text: str) -> Path:
    """A directory to write into, created if new: its parent must exist."""
    return _to_write(text, directory=True)


def new_directory(text: str) -> Path:
    """A directory to generate a network in: one that holds no network yet."""
    path = output_directory(text)
    if (path / "genesis.json").exists():
        raise _refuse(f"{text} already holds a network (genesis.json); name a new directory")
    return path


def new_file(text: str) -> Path:
    """A file to create that must not exist yet (a key is never overwritten)."""
    path = output_file(text)
    if path.exists():
        raise _refuse(f"{text} already exists; HubLedger never overwrites a key, name a new file")
    return path


def ca_certificate(text: str) -> Path:
    """The network's CA certificate (its directory's tls/ca.crt): a readable PEM certificate."""
    return _pem_certificate(text, "the network's CA certificate is tls/ca.crt in its directory")


def certificate_file(text: str) -> Path:
    """A TLS client certificate (a network directory's tls/clients/ROLE-NAME.crt)."""
    return _pem_certificate(text, "client certificates are in tls/clients/ of the network's directory")


def certificate_key_file(text: str) -> Path:
    """The private key of a TLS client certificate (tls/clients/ROLE-NAME.key): a PEM private key."""
    path = existing_file(text)
    try:
        serialization.load_pem_private_key(path.read_bytes(), password=None)
    except OSError as error:
        raise _refuse(f"cannot read {text}: {error.strerror or error}") from None
    except (ValueError, TypeError):
        raise _refuse(f"{text} is not a PEM private key without a password") from None
    return path


def _pem_certificate(text: str, where: str) -> Path:
    path = existing_file(text)
    try:
        data = path.read_bytes()
    except OSError as error:
        raise _refuse(f"cannot read {text}: {error.strerror or error}") from None
    try:
        x509.load_pem_x509_certificates(data)
    except ValueError:
        raise _refuse(f"{text} is not a PEM certificate; {where}") from None
    return path


def host_assignment(text: str) -> str:
    """``HUB=ADDRESS`` (netgen --host): a hub name and the DNS name or IP address of its host."""
    hub, separator, host = text.partition("=")
    if not separator or not host.strip():
        raise _refuse(f"{text!r} is not HUB=ADDRESS, e.g. beijing=10.0.1.5")
    hub_name(hub.strip())
    try:
        validate_host(host.strip())
    except LedgerError as error:
        raise _refuse(error.message) from None
    return f"{hub.strip()}={host.strip()}"


def party_name(text: str) -> str:
    """The name in a certificate's identity (a hub, or ``regulator``): lowercase letters, digits, dashes."""
    try:
        validate_name(text)
    except IdentityInvalid as error:
        raise _refuse(error.message) from None
    return text


def dns_name(text: str) -> str:
    """A hub's DNS name, for its certificate."""
    try:
        ipaddress.ip_address(text)
    except ValueError:
        try:
            validate_host(text)
        except LedgerError as error:
            raise _refuse(error.message) from None
        return text
    raise _refuse(f"{text!r} is an IP address; give it with --ip")


def ip_address(text: str) -> IpAddress:
    """A hub's IP address, for its certificate."""
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        raise _refuse(f"{text!r} is not an IPv4 or IPv6 address") from None


def serial_number(text: str) -> int:
    """A certificate's serial number in hex, as ``hubledger cert list`` prints it."""
    value = text.strip().lower().removeprefix("0x")
    if not value or len(value) > 40 or not _HEX.fullmatch(value):
        raise _refuse(f"{text!r} is not a serial number: up to 40 hex characters")
    return int(value, 16)


def admin_token(text: str) -> str:
    """An operator token as sent in an Authorization header: visible ASCII characters only."""
    if not text or len(text) > 512 or not all("!" <= character <= "~" for character in text):
        raise _refuse("an admin token is 1 to 512 visible ASCII characters, with no space")
    return text


def node_urls(text: str) -> tuple[str, ...]:
    """One or more client API URLs separated by commas, each checked as ``node_url``."""
    urls = tuple(node_url(part) for part in text.split(",") if part.strip())
    if not urls:
        raise _refuse(f"{text!r} names no URL; e.g. {DEFAULT_NODE_URL} or several separated by commas")
    return urls
