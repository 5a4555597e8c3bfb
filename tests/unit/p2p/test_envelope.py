"""Frame envelopes round-trip, and anything else a peer could send is a DecodeError (its fault)."""

from __future__ import annotations

import pytest

from ledger import cbor
from ledger.errors import DecodeError
from p2p.envelope import Frame, FrameKind, decode_frame, encode_frame, make_error_frame

LIMIT = 1024


@pytest.mark.parametrize(
    "frame",
    [
        Frame(FrameKind.MESSAGE, 0, b"prepare"),
        Frame(FrameKind.MESSAGE, 0, b""),
        Frame(FrameKind.REQUEST, 7, b"blocks 1..5"),
        Frame(FrameKind.RESPONSE, 7, b"\x00" * LIMIT),
        make_error_frame(9, "EMPTY_RANGE"),
    ],
)
def test_frames_round_trip(frame: Frame) -> None:
    assert decode_frame(encode_frame(frame), payload_bytes_max=LIMIT) == frame


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"\xff",
        cbor.encode({"kind": 0}),
        cbor.encode([]),
        cbor.encode([4, b"unknown kind"]),
        cbor.encode([0, "text, not bytes"]),
        cbor.encode([0, b"extra", 1]),
        cbor.encode([1, b"no id"]),
        cbor.encode([1, 0, b"request id zero"]),
        cbor.encode([3, 5, b"error code as bytes"]),
        cbor.encode([0, b"x" * (LIMIT + 1)]),
        bytes.fromhex("8218004178"),  # [0, b"x"] with the kind spelled in a long form
    ],
)
def test_malformed_frames_are_refused(data: bytes) -> None:
    with pytest.raises(DecodeError):
        decode_frame(data, payload_bytes_max=LIMIT)


def test_error_codes_are_cut_to_their_limit() -> None:
    frame = make_error_frame(1, "E" * 500)
    assert decode_frame(encode_frame(frame), payload_bytes_max=LIMIT).error_code == "E" * 64
