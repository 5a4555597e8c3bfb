"""Canonical CBOR: round trips over the whole value space, and the strict decoder
refusing every second spelling of a value and everything outside the value space."""

from __future__ import annotations

import enum
import time
from typing import Any

import cbor2
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger import cbor
from ledger.errors import DecodeError, TooLarge

BYTES_MAX = 1 << 16

scalars = (
    st.integers(cbor.INT_MIN, cbor.INT_MAX)
    | st.text(max_size=20)
    | st.binary(max_size=20)
    | st.booleans()
    | st.none()
)
values = st.recursive(
    scalars,
    lambda children: (
        st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=8), children, max_size=5)
    ),
    max_leaves=30,
)


def encode_reference(value: Any) -> bytes:
    """An independent RFC 8949 section 4.2.1 encoder for the value space, to check cbor.encode against."""

    def head(major: int, argument: int) -> bytes:
        if argument < 24:
            return bytes([major << 5 | argument])
        for extra, size in ((24, 1), (25, 2), (26, 4), (27, 8)):
            if argument < 1 << (8 * size):
                return bytes([major << 5 | extra]) + argument.to_bytes(size, "big")
        raise ValueError(argument)

    if value is False or value is True or value is None:
        return {False: b"\xf4", True: b"\xf5", None: b"\xf6"}[value]
    if isinstance(value, int):
        return head(0, value) if value >= 0 else head(1, -1 - value)
    if isinstance(value, bytes):
        return head(2, len(value)) + value
    if isinstance(value, str):
        data = value.encode()
        return head(3, len(data)) + data
    if isinstance(value, list):
        return head(4, len(value)) + b"".join(encode_reference(item) for item in value)
    pairs = sorted((encode_reference(key), encode_reference(item)) for key, item in value.items())
    return head(5, len(pairs)) + b"".join(key + item for key, item in pairs)


@settings(max_examples=300, deadline=None)
@given(values)
def test_round_trip_is_exact_and_matches_rfc_8949(value: Any) -> None:
    encoded = cbor.encode(value)
    assert encoded == encode_reference(value)
    assert cbor.decode(encoded, bytes_max=BYTES_MAX) == value


def reorder_maps(value: Any, draw: Any) -> Any:
    """``value`` with the keys of every map, at any depth, in an order drawn at random."""
    if isinstance(value, list):
        return [reorder_maps(item, draw) for item in value]
    if isinstance(value, dict):
        keys = draw(st.permutations(list(value)))
        return {key: reorder_maps(value[key], draw) for key in keys}
    return value


@settings(max_examples=300, deadline=None)
@given(values, st.data())
def test_any_other_key_order_encodes_canonically_and_is_refused_spelled_as_is(value: Any, data: Any) -> None:
    reordered = reorder_maps(value, data.draw)
    canonical = encode_reference(value)
    assert cbor.encode(reordered) == canonical
    spelled = cbor2.dumps(reordered)  # the maps' keys in the drawn order
    if spelled == canonical:
        assert cbor.decode(spelled, bytes_max=BYTES_MAX) == value
    else:
        with pytest.raises(DecodeError):
            cbor.decode(spelled, bytes_max=BYTES_MAX)


@pytest.mark.parametrize(
    ("value", "hex_encoding"),
    [
        (0, "00"),
        (23, "17"),
        (24, "1818"),
        (255, "18ff"),
        (256, "190100"),
        (65536, "1a00010000"),
        (2**32, "1b0000000100000000"),
        (cbor.INT_MAX, "1bffffffffffffffff"),
        (-1, "20"),
        (cbor.INT_MIN, "3bffffffffffffffff"),
        ("", "60"),
        ("ü", "62c3bc"),
        (b"\x01", "4101"),
        ([], "80"),
        ({}, "a0"),
        ({"b": 1, "a": 2, "aa": 3}, "a3616102616201626161" + "03"),
    ],
)
def test_known_encodings(value: Any, hex_encoding: str) -> None:
    assert cbor.encode(value).hex() == hex_encoding
    assert cbor.decode(bytes.fromhex(hex_encoding), bytes_max=BYTES_MAX) == value


class Kind(enum.IntEnum):
    MESSAGE = 3


class Name(str):
    pass


def test_subclasses_of_the_value_types_encode_as_the_plain_values() -> None:
    # FrameKind is an IntEnum; a str subclass can reach the encoder from a caller.
    value = {Name("kind"): Kind.MESSAGE, "items": [Kind.MESSAGE, Name("é")], "flag": True}
    plain = {"kind": 3, "items": [3, "é"], "flag": True}
    assert cbor.encode(value) == cbor.encode(plain) == encode_reference(plain)
    with pytest.raises(DecodeError):
        cbor.encode({"too big": Kind.MESSAGE, "n": 2**64})


REFUSED = {
    "int 0 as one extra byte": "1800",
    "int 23 as one extra byte": "1817",
    "int 255 as two extra bytes": "1900ff",
    "int 1 as four bytes": "1a00000001",
    "int 1 as eight bytes": "1b0000000000000001",
    "negative int -1 as one extra byte": "3800",
    "text length in long form": "7801" + "61",
    "bytes length in long form": "5801" + "01",
    "array length in long form": "980100",
    "map length in long form": "b801616100",
    "map keys unsorted": "a2616201616102",
    "map keys sorted lexically not by length": "a262616101616202",
    "map keys unsorted inside an array": "81a2616201616102",
    "map keys unsorted inside a sorted map": "a16161a2616201616102",
    "non-ASCII map keys unsorted": "a262c3bc0162c3a402",
    "duplicate map key": "a2616101616102",
    "indefinite array": "9f01ff",
    "indefinite map": "bf616101ff",
    "indefinite byte string": "5f4101ff",
    "indefinite text string": "7f616161ff",
    "half float": "f93c00",
    "single float": "fa3f800000",
    "double float": "fb3ff0000000000000",
    "float NaN": "f97e00",
    "bignum tag for a small int": "c24101",
    "bignum tag for zero": "c240",
    "negative bignum for a small int": "c34101",
    "bignum beyond 64 bits": "c249010000000000000000",
    "negative bignum beyond 64 bits": "c349010000000000000000",
    "datetime string tag": "c074323031332d30332d32315432303a30343a30305a",
    "epoch datetime tag": "c11a514b67b0",
    "self-describe tag": "d9d9f701",
    "unknown tag": "d9ffff01",
    "undefined": "f7",
    "simple value": "e0",
    "integer map key": "a10102",
    "byte-string map key": "a1410102",
    "array map key": "a1810102",
    "invalid UTF-8": "62c328",
    "UTF-8 surrogate": "63eda080",
    "truncated int": "19ff",
    "truncated array": "8201",
    "truncated text": "6361",
    "empty input": "",
    "trailing bytes": "0000",
    "break without indefinite item": "ff",
    "reserved additional info": "1c",
}


@pytest.mark.parametrize("hex_encoding", REFUSED.values(), ids=REFUSED.keys())
def test_strict_decoder_refuses(hex_encoding: str) -> None:
    with pytest.raises(DecodeError):
        cbor.decode(bytes.fromhex(hex_encoding), bytes_max=BYTES_MAX)


def nest(depth: int) -> Any:
    value: Any = 0
    for _ in range(depth):
        value = [value]
    return value


def test_nesting_up_to_the_limit_is_accepted_and_deeper_refused() -> None:
    deepest = nest(cbor.DEPTH_MAX)
    assert cbor.decode(cbor.encode(deepest), bytes_max=BYTES_MAX) == deepest
    too_deep = cbor2.dumps(nest(cbor.DEPTH_MAX + 1))
    with pytest.raises(DecodeError):
        cbor.decode(too_deep, bytes_max=BYTES_MAX)
    with pytest.raises(DecodeError):
        cbor.encode(nest(cbor.DEPTH_MAX + 1))
    # A hostile depth far past the limit fails fast rather than recursing.
    with pytest.raises(DecodeError):
        cbor.decode(b"\x81" * 100_000 + b"\x00", bytes_max=1 << 20)


def test_over_size_input_is_refused_before_decoding(monkeypatch: pytest.MonkeyPatch) -> None:
    def fail(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("the decoder ran on an over-size input")

    huge = bytes(64 * 1024 * 1024)
    monkeypatch.setattr(cbor2, "loads", fail)
    started = time.perf_counter()
    with pytest.raises(TooLarge) as caught:
        cbor.decode(huge, bytes_max=16 * 1024 * 1024)
    assert time.perf_counter() - started < 0.5
    assert caught.value.code == "TOO_LARGE"
    with pytest.raises(TooLarge):
        cbor.decode(b"\x41\x00", bytes_max=1)


@pytest.mark.parametrize(
    "value",
    [1.5, float("nan"), 2**64, -(2**64) - 1, {1: 2}, {b"k": 1}, {"a": {1, 2}}, object(), [bytearray(b"x")]],
    ids=["float", "nan", "int-high", "int-low", "int-key", "bytes-key", "set", "object", "bytearray"],
)
def test_encoder_refuses_values_outside_the_value_space(value: Any) -> None:
    with pytest.raises(DecodeError):
        cbor.encode(value)


@pytest.mark.parametrize("text", ["\ud800", "ok\udfff", "\udc80abc"], ids=["high", "low", "escaped-byte"])
def test_text_that_is_not_unicode_is_refused_with_a_typed_error(text: str) -> None:
    # json.loads turns "\\ud800" into a lone surrogate, which has no UTF-8 encoding.
    with pytest.raises(DecodeError):
        cbor.encode({"memo": text})
    with pytest.raises(DecodeError):
        cbor.encode({text: 1})
    with pytest.raises(DecodeError):
        cbor.expect_text(text, "memo")


def test_schema_helpers_refuse_wrong_types_and_fields() -> None:
    assert cbor.expect_map({"a": 1}, ("a",), "thing") == {"a": 1}
    with pytest.raises(DecodeError, match="missing"):
        cbor.expect_map({}, ("a",), "thing")
    with pytest.raises(DecodeError, match="unknown"):
        cbor.expect_map({"a": 1, "b": 2}, ("a",), "thing")
    with pytest.raises(DecodeError):
        cbor.expect_map([], ("a",), "thing")
    for bad in (True, "1", b"1", None, -1, 2**63):
        with pytest.raises(DecodeError):
            cbor.expect_int(bad, "n")
    with pytest.raises(DecodeError):
        cbor.expect_bytes(b"\x00" * 31, "hash", size=32)
    with pytest.raises(DecodeError):
        cbor.expect_bytes("00", "hash")
    with pytest.raises(DecodeError):
        cbor.expect_text("x" * 257, "name")
    with pytest.raises(DecodeError):
        cbor.expect_list([1, 2, 3], "items", count_max=2)
    with pytest.raises(DecodeError):
        cbor.expect_list((1,), "items", count_max=2)
