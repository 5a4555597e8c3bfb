"""Keys and signatures: low-S signing, the strict DER parser, point import, PEM."""

from __future__ import annotations

from pathlib import Path

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

from ledger.errors import KeyInvalid, SignatureInvalid
from ledger.keys import (
    CURVE_ORDER,
    HALF_ORDER,
    PrivateKey,
    PublicKey,
    compress_public_key,
    compute_address,
    decode_der_signature,
    is_low_s,
    load_public_pem,
    require_signature,
    verify_signature,
    verify_signature_any_s,
)

SECRET = 0x1234_5678_9ABC


def make_high_s_twin(signature: bytes) -> bytes:
    s = int.from_bytes(signature[32:], "big")
    return signature[:32] + (CURVE_ORDER - s).to_bytes(32, "big")


def test_signatures_are_always_low_s_and_verify() -> None:
    key = PrivateKey.from_secret(SECRET)
    for index in range(64):
        message = b"payment %d" % index
        signature = key.sign(message)
        assert len(signature) == 64 and is_low_s(signature)
        assert key.public_key.verify(message, signature)
        assert not key.public_key.verify(message + b"!", signature)


def test_high_s_twin_verifies_as_plain_ecdsa_but_is_refused() -> None:
    key = PrivateKey.from_secret(SECRET)
    signature = key.sign(b"settle 100")
    twin = make_high_s_twin(signature)
    assert verify_signature_any_s(key.public_key.data, b"settle 100", twin)
    assert not verify_signature(key.public_key.data, b"settle 100", twin)
    with pytest.raises(SignatureInvalid):
        require_signature(key.public_key.data, b"settle 100", twin, "the test message")


@pytest.mark.parametrize(
    "signature",
    [b"", b"\x00" * 63, b"\x00" * 65, b"\x00" * 64, b"\x01" * 32 + b"\x00" * 32, b"\x00" * 32 + b"\x01" * 32],
    ids=["empty", "short", "long", "zero", "s-zero", "r-zero"],
)
def test_malformed_signatures_do_not_verify(signature: bytes) -> None:
    key = PrivateKey.from_secret(SECRET)
    assert not verify_signature_any_s(key.public_key.data, b"m", signature)


def test_r_or_s_at_the_group_order_does_not_verify() -> None:
    key = PrivateKey.from_secret(SECRET)
    signature = key.sign(b"m")
    order = CURVE_ORDER.to_bytes(32, "big")
    assert not verify_signature_any_s(key.public_key.data, b"m", order + signature[32:])
    assert not verify_signature_any_s(key.public_key.data, b"m", signature[:32] + order)


def test_half_order_is_the_largest_low_s() -> None:
    assert is_low_s(b"\x01" * 32 + HALF_ORDER.to_bytes(32, "big"))
    assert not is_low_s(b"\x01" * 32 + (HALF_ORDER + 1).to_bytes(32, "big"))


@pytest.mark.parametrize(
    "data",
    [b"", b"\x02" * 32, b"\x02" + b"\x00" * 33, b"\x04" + b"\x01" * 32, b"\x05" + b"\x01" * 32],
    ids=["empty", "short", "long", "uncompressed-tag", "bad-tag"],
)
def test_bad_public_keys_are_refused(data: bytes) -> None:
    with pytest.raises(KeyInvalid):
        PublicKey(data)
    assert not verify_signature(data, b"m", PrivateKey.from_secret(SECRET).sign(b"m"))


def test_off_curve_compressed_point_is_refused() -> None:
    # x^3 - 3x + b is not a square modulo p for x = 1, so no point has x = 1.
    field_prime = 2**256 - 2**224 + 2**192 + 2**96 - 1
    b = 0x5AC635D8AA3A93E7B3EBBD55769886BC651D06B0CC53B0F63BCE3C3E27D2604B
    assert pow((1 - 3 + b) % field_prime, (field_prime - 1) // 2, field_prime) != 1
    with pytest.raises(KeyInvalid):
        PublicKey(b"\x02" + (1).to_bytes(32, "big"))


def test_uncompressed_point_compresses_to_the_same_key() -> None:
    key = PrivateKey.from_secret(SECRET)
    point = ec.derive_private_key(SECRET, ec.SECP256R1()).public_key().public_numbers()
    uncompressed = b"\x04" + point.x.to_bytes(32, "big") + point.y.to_bytes(32, "big")
    assert PublicKey.from_uncompressed(uncompressed) == key.public_key
    assert compress_public_key(uncompressed) == key.public_key.data


@pytest.mark.parametrize(
    "data",
    [b"", b"\x04" + b"\x00" * 64, b"\x04" + b"\x01" * 64, b"\x02" + b"\x00" * 64, b"\x04" + b"\x01" * 32],
    ids=["empty", "origin", "off-curve", "wrong-tag", "short"],
)
def test_bad_uncompressed_points_are_refused(data: bytes) -> None:
    with pytest.raises(KeyInvalid):
        PublicKey.from_uncompressed(data)


def test_pem_round_trip_keeps_the_key(tmp_path: Path) -> None:
    key = PrivateKey.from_secret(SECRET)
    path = tmp_path / "validator.pem"
    key.save(path)
    assert path.stat().st_mode & 0o777 == 0o600
    loaded = PrivateKey.load(path)
    assert loaded.public_key == key.public_key
    assert load_public_pem(key.public_key.to_pem()) == key.public_key
    assert key.public_key.verify(b"m", loaded.sign(b"m"))


def test_bad_pem_and_other_curves_are_refused(tmp_path: Path) -> None:
    with pytest.raises(KeyInvalid):
        PrivateKey.from_pem(b"-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n")
    with pytest.raises(KeyInvalid):
        PrivateKey(ec.derive_private_key(7, ec.SECP384R1()))
    with pytest.raises(KeyInvalid):
        PrivateKey.load(tmp_path / "missing.pem")
    other = ec.derive_private_key(7, ec.SECP384R1()).public_key()
    pem = other.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    with pytest.raises(KeyInvalid):
        load_public_pem(pem)


def test_address_is_twenty_bytes_and_differs_per_key() -> None:
    first, second = PrivateKey.from_secret(1).public_key, PrivateKey.from_secret(2).public_key
    assert len(first.address) == 20 and first.address == compute_address(first.data)
    assert first.address != second.address


# --- strict DER -------------------------------------------------------------


def der_integer(value: int) -> bytes:
    body = value.to_bytes(value.bit_length() // 8 + 1, "big")  # minimal, with a sign byte when needed
    return b"\x02" + bytes([len(body)]) + body


def der_signature(r: int, s: int) -> bytes:
    body = der_integer(r) + der_integer(s)
    return b"\x30" + bytes([len(body)]) + body


@pytest.mark.parametrize(
    ("r", "s"), [(1, 1), (0x7F, 0x80), (HALF_ORDER, CURVE_ORDER - 1), (2**256 - 1, 2**255), (0, 0)]
)
def test_der_parser_reads_what_openssl_writes(r: int, s: int) -> None:
    der = der_signature(r, s)
    assert der == encode_dss_signature(r, s)
    assert decode_der_signature(der) == r.to_bytes(32, "big") + s.to_bytes(32, "big")


def test_der_signature_from_cryptography_verifies_after_parsing() -> None:
    key = PrivateKey.from_secret(SECRET)
    der = ec.derive_private_key(SECRET, ec.SECP256R1()).sign(b"m", ec.ECDSA(hashes.SHA256()))
    assert verify_signature_any_s(key.public_key.data, b"m", decode_der_signature(der))


GOOD = der_signature(0x1234, 0x5678)  # 30 08 02 02 12 34 02 02 56 78


@pytest.mark.parametrize(
    "der",
    [
        b"",
        b"\x30",
        b"\x31" + GOOD[1:],  # SET instead of SEQUENCE
        b"\x30\x81\x08" + GOOD[2:],  # long-form length where short suffices
        b"\x30\x09" + GOOD[2:],  # length past the end
        b"\x30\x07" + GOOD[2:],  # length short of the end
        GOOD + b"\x00",  # trailing byte
        b"\x30\x0a" + GOOD[2:] + b"\x05\x00",  # a third element (NULL)
        b"\x30\x04\x02\x02\x12\x34",  # s missing
        b"\x30\x08\x03\x02\x12\x34\x02\x02\x56\x78",  # BIT STRING for r
        b"\x30\x09\x02\x03\x00\x12\x34\x02\x02\x56\x78",  # leading zero on r
        b"\x30\x09\x02\x02\x12\x34\x02\x03\x00\x56\x78",  # leading zero on s
        b"\x30\x08\x02\x02\x92\x34\x02\x02\x56\x78",  # negative r
        b"\x30\x08\x02\x02\x12\x34\x02\x02\xd6\x78",  # negative s
        b"\x30\x07\x02\x00\x02\x03\x00\xd6\x78",  # empty INTEGER
        b"\x30\x09\x02\x81\x02\x12\x34\x02\x02\x56\x78",  # long-form INTEGER length
        b"\x30\x80" + GOOD[2:] + b"\x00\x00",  # indefinite length (BER)
        der_signature(2**256, 1),  # r of 257 bits
        b"\x30\x26\x02\x22\x00" + b"\xff" * 33 + b"\x02\x00",  # 34-byte r
    ],
)
def test_der_parser_refuses_every_non_der_form(der: bytes) -> None:
    with pytest.raises(SignatureInvalid):
        decode_der_signature(der)
