"""Every Wycheproof ECDSA P-256/SHA-256 vector, through the verifiers HubLedger uses.

Plain ECDSA must give the documented result for each vector. The low-S rule is
a separate layer on top: it must reject exactly the valid vectors whose s lies
in the upper half of the group order, and nothing it accepts may be invalid.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from ledger.errors import SignatureInvalid
from ledger.keys import (
    CURVE_ORDER,
    HALF_ORDER,
    PublicKey,
    decode_der_signature,
    verify_signature,
    verify_signature_any_s,
)

VECTORS_DIR = Path(__file__).resolve().parents[2] / "vectors" / "wycheproof"
P1363_FILE = VECTORS_DIR / "ecdsa_secp256r1_sha256_p1363_test.json"
DER_FILE = VECTORS_DIR / "ecdsa_secp256r1_sha256_test.json"


def load_vectors(path: Path) -> list[tuple[bytes, dict[str, Any]]]:
    """(compressed public key, test) for every test in the file, in file order."""
    document = json.loads(path.read_text())
    vectors: list[tuple[bytes, dict[str, Any]]] = []
    for group in document["testGroups"]:
        assert group["publicKey"]["curve"] == "secp256r1" and group["sha"] == "SHA-256"
        key = PublicKey.from_uncompressed(bytes.fromhex(group["publicKey"]["uncompressed"])).data
        vectors.extend((key, test) for test in group["tests"])
    assert len(vectors) == document["numberOfTests"]
    return vectors


P1363_VECTORS = load_vectors(P1363_FILE)
DER_VECTORS = load_vectors(DER_FILE)


def vector_id(vector: tuple[bytes, dict[str, Any]]) -> str:
    test = vector[1]
    return f"tc{test['tcId']}-{test['result']}"


def is_high_s(signature: bytes) -> bool:
    return len(signature) == 64 and int.from_bytes(signature[32:], "big") > HALF_ORDER


def try_decode_der(der: bytes) -> bytes | None:
    try:
        return decode_der_signature(der)
    except SignatureInvalid:
        return None


@pytest.mark.parametrize("vector", P1363_VECTORS, ids=vector_id)
def test_p1363_vector(vector: tuple[bytes, dict[str, Any]]) -> None:
    key, test = vector
    message, signature = bytes.fromhex(test["msg"]), bytes.fromhex(test["sig"])
    plain = verify_signature_any_s(key, message, signature)
    low_s = verify_signature(key, message, signature)
    # The files hold no 'acceptable' vectors (checked below); were one added,
    # only the low-S implication would bind it.
    if test["result"] == "valid":
        assert plain
        assert low_s is not is_high_s(signature)
    elif test["result"] == "invalid":
        assert not plain
    assert not low_s or plain


@pytest.mark.parametrize("vector", DER_VECTORS, ids=vector_id)
def test_der_vector(vector: tuple[bytes, dict[str, Any]]) -> None:
    key, test = vector
    message = bytes.fromhex(test["msg"])
    signature = try_decode_der(bytes.fromhex(test["sig"]))
    plain = signature is not None and verify_signature_any_s(key, message, signature)
    low_s = signature is not None and verify_signature(key, message, signature)
    if test["result"] == "valid":
        assert signature is not None, "a valid DER signature must parse"
        assert plain
        assert low_s is not is_high_s(signature)
    elif test["result"] == "invalid":
        assert not plain
    assert not low_s or plain


def count_high_s_valid(vectors: list[tuple[bytes, dict[str, Any]]], *, der: bool) -> int:
    count = 0
    for _key, test in vectors:
        if test["result"] != "valid":
            continue
        raw = bytes.fromhex(test["sig"])
        if der:
            # Parse independently of ledger: SEQUENCE { INTEGER r, INTEGER s }, short lengths.
            r_size = raw[3]
            s = int.from_bytes(raw[4 + r_size + 2 :], "big")
        else:
            s = int.from_bytes(raw[32:], "big")
        count += s > CURVE_ORDER // 2
    return count


@pytest.mark.parametrize(
    ("vectors", "der", "expected"),
    [(P1363_VECTORS, False, 70), (DER_VECTORS, True, 71)],
    ids=["p1363", "der"],
)
def test_low_s_rule_rejects_exactly_the_high_s_valid_vectors(
    vectors: list[tuple[bytes, dict[str, Any]]], der: bool, expected: int
) -> None:
    assert count_high_s_valid(vectors, der=der) == expected
    rejected = 0
    for key, test in vectors:
        if test["result"] != "valid":
            continue
        message = bytes.fromhex(test["msg"])
        raw = bytes.fromhex(test["sig"])
        signature = decode_der_signature(raw) if der else raw
        rejected += not verify_signature(key, message, signature)
    assert rejected == expected


def test_files_hold_every_outcome_expected() -> None:
    for vectors, valid, invalid in ((P1363_VECTORS, 173, 89), (DER_VECTORS, 174, 310)):
        results = [test["result"] for _key, test in vectors]
        assert (results.count("valid"), results.count("invalid"), results.count("acceptable")) == (
            valid,
            invalid,
            0,
        )
        ids = [test["tcId"] for _key, test in vectors]
        assert len(set(ids)) == len(ids)


def test_every_ber_encoded_signature_is_refused_by_the_der_parser() -> None:
    ber = [test for _key, test in DER_VECTORS if "BerEncodedSignature" in test["flags"]]
    assert len(ber) == 7
    for test in ber:
        assert try_decode_der(bytes.fromhex(test["sig"])) is None, test["comment"]


def test_edge_case_public_keys_round_trip_through_the_compressed_form() -> None:
    seen = 0
    for path in (P1363_FILE, DER_FILE):
        for group in json.loads(path.read_text())["testGroups"]:
            if not any("EdgeCasePublicKey" in test["flags"] for test in group["tests"]):
                continue
            key = PublicKey.from_uncompressed(bytes.fromhex(group["publicKey"]["uncompressed"]))
            wx = int(group["publicKey"]["wx"], 16)
            wy = int(group["publicKey"]["wy"], 16)
            assert key.data == bytes([2 + (wy & 1)]) + wx.to_bytes(32, "big")
            seen += 1
    assert seen > 0
