"""ECDSA P-256 keys and signatures, verified by OpenSSL through ``cryptography``.

On the wire a signature is exactly 64 bytes, r || s, big-endian, with s in the
lower half of the group order. ECDSA lets anyone turn (r, s) into the equally
valid (r, n - s); allowing only low s makes each signed message have one
signature, so nothing keyed by a signature's bytes can be forged by flipping it.
Public keys travel as 33-byte compressed SEC1 points.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import (
    decode_dss_signature,
    encode_dss_signature,
)

from ledger.errors import KeyInvalid, SignatureInvalid
from ledger.hashing import Domain, compute_hash
from ledger.types import ADDRESS_BYTES, Address

CURVE_ORDER = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551
HALF_ORDER = CURVE_ORDER // 2
SIGNATURE_BYTES = 64
PUBLIC_KEY_BYTES = 33
UNCOMPRESSED_PUBLIC_KEY_BYTES = 65
_ECDSA = ec.ECDSA(hashes.SHA256())


@dataclass(frozen=True, slots=True)
class PublicKey:
    """A validator's or account's public key as its compressed SEC1 encoding."""

    data: bytes

    def __post_init__(self) -> None:
        _load_public(self.data)  # raises KeyInvalid before the key can be used

    @property
    def address(self) -> Address:
        return compute_address(self.data)

    def verify(self, message: bytes, signature: bytes) -> bool:
        """True when ``signature`` is a valid low-S r||s signature of ``message``."""
        return verify_signature(self.data, message, signature)

    def to_pem(self) -> bytes:
        return _load_public(self.data).public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )

    def hex(self) -> str:
        return self.data.hex()

    @classmethod
    def from_uncompressed(cls, data: bytes) -> PublicKey:
        """The key of an uncompressed SEC1 point ``04 || X || Y`` (65 bytes), as others publish it."""
        return cls(compress_public_key(data))


class PrivateKey:
    """A P-256 signing key; it signs with low S only."""

    __slots__ = ("_key", "public_key")

    def __init__(self, key: ec.EllipticCurvePrivateKey) -> None:
        if not isinstance(key.curve, ec.SECP256R1):
            raise KeyInvalid(f"key is on curve {key.curve.name}, HubLedger uses P-256 (secp256r1)")
        self._key = key
        point = key.public_key().public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.CompressedPoint
        )
        self.public_key = PublicKey(point)

    @classmethod
    def generate(cls) -> PrivateKey:
        return cls(ec.generate_private_key(ec.SECP256R1()))

    @classmethod
    def from_secret(cls, secret: int) -> PrivateKey:
        return cls(ec.derive_private_key(secret, ec.SECP256R1()))

    @classmethod
    def from_pem(cls, pem: bytes) -> PrivateKey:
        try:
            key = serialization.load_pem_private_key(pem, password=None)
        except TypeError:  # cryptography's word for a key that needs a password
            raise KeyInvalid("the PEM private key is encrypted; give an unencrypted one") from None
        except ValueError:  # cryptography's message points at its FAQ, not at the file
            raise KeyInvalid("not a PEM private key (unencrypted P-256, PKCS#8 or SEC1)") from None
        if not isinstance(key, ec.EllipticCurvePrivateKey):
            raise KeyInvalid("PEM key is not an elliptic-curve key")
        return cls(key)

    @classmethod
    def load(cls, path: Path) -> PrivateKey:
        try:
            pem = path.read_bytes()
        except OSError as error:
            raise KeyInvalid(f"cannot read key file {path}: {error.strerror}") from None
        try:
            return cls.from_pem(pem)
        except KeyInvalid as error:
            raise KeyInvalid(f"{path}: {error.message}") from None

    def to_pem(self) -> bytes:
        return self._key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )

    def save(self, path: Path) -> None:
        path.write_bytes(self.to_pem())
        path.chmod(0o600)

    def sign(self, message: bytes) -> bytes:
        r, s = decode_dss_signature(self._key.sign(message, _ECDSA))
        if s > HALF_ORDER:
            s = CURVE_ORDER - s
        return r.to_bytes(32, "big") + s.to_bytes(32, "big")


def compute_address(public_key: bytes) -> Address:
    return Address(compute_hash(Domain.ADDRESS, public_key)[:ADDRESS_BYTES])


def is_low_s(signature: bytes) -> bool:
    return len(signature) == SIGNATURE_BYTES and int.from_bytes(signature[32:], "big") <= HALF_ORDER


def verify_signature(public_key: bytes, message: bytes, signature: bytes) -> bool:
    """Plain ECDSA verification of a fixed-size r||s signature, plus the low-S rule."""
    return is_low_s(signature) and verify_signature_any_s(public_key, message, signature)


def verify_signature_any_s(public_key: bytes, message: bytes, signature: bytes) -> bool:
    """ECDSA verification of r||s without the low-S rule (kept separate for the test vectors)."""
    if len(signature) != SIGNATURE_BYTES:
        return False
    r = int.from_bytes(signature[:32], "big")
    s = int.from_bytes(signature[32:], "big")
    if not (0 < r < CURVE_ORDER and 0 < s < CURVE_ORDER):
        return False
    try:
        key = _load_public(public_key)
    except KeyInvalid:
        return False
    try:
        key.verify(encode_dss_signature(r, s), message, _ECDSA)
    except InvalidSignature:
        return False
    return True


def require_signature(public_key: bytes, message: bytes, signature: bytes, what: str) -> None:
    if not verify_signature(public_key, message, signature):
        raise SignatureInvalid(f"the signature of {what} does not verify")


@functools.lru_cache(maxsize=4096)
def _load_public(data: bytes) -> ec.EllipticCurvePublicKey:
    # Decompressing a point costs about as much as a verification: cache it per key.
    if len(data) != PUBLIC_KEY_BYTES:
        raise KeyInvalid(f"a public key is {PUBLIC_KEY_BYTES} bytes (compressed P-256), not {len(data)}")
    try:
        return ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), data)
    except ValueError:
        raise KeyInvalid("bytes are not a point on P-256") from None


def compress_public_key(uncompressed: bytes) -> bytes:
    """Compressed SEC1 form of an uncompressed P-256 point; raises KeyInvalid off the curve."""
    if len(uncompressed) != UNCOMPRESSED_PUBLIC_KEY_BYTES or uncompressed[0] != 0x04:
        raise KeyInvalid(f"an uncompressed P-256 point is 04||X||Y, {UNCOMPRESSED_PUBLIC_KEY_BYTES} bytes")
    try:
        key = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), uncompressed)
    except ValueError:
        raise KeyInvalid("bytes are not a point on P-256") from None
    return key.public_bytes(serialization.Encoding.X962, serialization.PublicFormat.CompressedPoint)


def decode_der_signature(der: bytes) -> bytes:
    """The 64-byte r||s of a strict ASN.1 DER ``SEQUENCE { INTEGER r, INTEGER s }``.

    Only the one DER spelling is accepted (short-form lengths, minimal non-negative
    integers, no trailing bytes): BER variants of a signature would otherwise be
    distinct byte strings for the same signature. Raises SignatureInvalid.
    """
    # The largest valid body is two 33-byte integers with their headers: 70 bytes,
    # so a length byte with the high bit set (long form) is never minimal.
    if len(der) < 2 or der[0] != 0x30 or der[1] & 0x80 or der[1] != len(der) - 2:
        raise SignatureInvalid("signature is not a DER SEQUENCE of the right length")
    r, offset = _decode_der_integer(der, 2)
    s, offset = _decode_der_integer(der, offset)
    if offset != len(der):
        raise SignatureInvalid("DER signature has bytes after its two integers")
    return r + s


def _decode_der_integer(der: bytes, offset: int) -> tuple[bytes, int]:
    if offset + 2 > len(der) or der[offset] != 0x02:
        raise SignatureInvalid("DER signature does not hold an INTEGER where one is due")
    size = der[offset + 1]
    start = offset + 2
    end = start + size
    if size & 0x80 or size == 0 or end > len(der):
        raise SignatureInvalid("DER INTEGER has a bad length")
    content = der[start:end]
    if content[0] & 0x80:
        raise SignatureInvalid("DER INTEGER in a signature is negative")
    if size > 1 and content[0] == 0 and not content[1] & 0x80:
        raise SignatureInvalid("DER INTEGER has a superfluous leading zero")
    if size > 33 or (size == 33 and content[0] != 0):
        raise SignatureInvalid("DER INTEGER is larger than 256 bits")
    return content[-32:].rjust(32, b"\x00"), end


def load_public_pem(pem: bytes) -> PublicKey:
    try:
        key = serialization.load_pem_public_key(pem)
    except (ValueError, TypeError):  # cryptography's message points at its FAQ, not at the file
        raise KeyInvalid("not a PEM public key (a P-256 key in SubjectPublicKeyInfo PEM)") from None
    if not isinstance(key, ec.EllipticCurvePublicKey) or not isinstance(key.curve, ec.SECP256R1):
        raise KeyInvalid("PEM key is not a P-256 public key")
    return PublicKey(
        key.public_bytes(serialization.Encoding.X962, serialization.PublicFormat.CompressedPoint)
    )
