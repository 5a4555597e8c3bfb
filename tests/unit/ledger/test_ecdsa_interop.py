"""The pure-Python ``ecdsa`` package and ledger's OpenSSL path agree on signatures.

A light client signs and verifies with ``ecdsa`` alone; the node verifies with
``cryptography``. Each direction is checked on fixed and on generated messages.
"""

from __future__ import annotations

import hashlib
import random

import ecdsa
from ecdsa.util import sigdecode_string, sigencode_string_canonize
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.keys import PrivateKey, is_low_s, verify_signature

SEED = 20240611
MESSAGE_COUNT = 40


def make_ecdsa_key(secret: int) -> ecdsa.SigningKey:
    return ecdsa.SigningKey.from_secret_exponent(secret, curve=ecdsa.NIST256p, hashfunc=hashlib.sha256)


def sign_with_ecdsa(key: ecdsa.SigningKey, message: bytes) -> bytes:
    signature: bytes = key.sign_deterministic(message, sigencode=sigencode_string_canonize)
    return signature


def verify_with_ecdsa(public_key: bytes, message: bytes, signature: bytes) -> bool:
    key = ecdsa.VerifyingKey.from_string(public_key, curve=ecdsa.NIST256p, hashfunc=hashlib.sha256)
    try:
        return bool(key.verify(signature, message, sigdecode=sigdecode_string))
    except ecdsa.BadSignatureError:
        return False


def random_cases() -> list[tuple[int, bytes]]:
    rng = random.Random(SEED)
    order = ecdsa.NIST256p.order
    return [(rng.randrange(1, order), rng.randbytes(rng.randrange(0, 200))) for _ in range(MESSAGE_COUNT)]


def test_ecdsa_signatures_verify_in_ledger() -> None:
    for secret, message in random_cases():
        key = make_ecdsa_key(secret)
        public_key = key.get_verifying_key().to_string("compressed")
        assert public_key == PrivateKey.from_secret(secret).public_key.data
        signature = sign_with_ecdsa(key, message)
        assert is_low_s(signature)
        assert verify_signature(public_key, message, signature)
        assert not verify_signature(public_key, message + b"\x00", signature)


def test_ledger_signatures_verify_in_ecdsa() -> None:
    for secret, message in random_cases():
        key = PrivateKey.from_secret(secret)
        signature = key.sign(message)
        assert verify_with_ecdsa(key.public_key.data, message, signature)
        assert not verify_with_ecdsa(key.public_key.data, message + b"\x00", signature)


@settings(max_examples=25, deadline=None)
@given(message=st.binary(max_size=512), secret=st.integers(1, ecdsa.NIST256p.order - 1))
def test_both_libraries_accept_each_others_signatures(message: bytes, secret: int) -> None:
    ledger_key = PrivateKey.from_secret(secret)
    ecdsa_key = make_ecdsa_key(secret)
    public_key = ledger_key.public_key.data
    assert verify_with_ecdsa(public_key, message, ledger_key.sign(message))
    assert verify_signature(public_key, message, sign_with_ecdsa(ecdsa_key, message))
