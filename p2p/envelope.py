"""The frame envelope: what kind of frame a binary WebSocket message is.

After the handshake every WebSocket message is one canonical CBOR array:

    [0, payload]                one-way message
    [1, request_id, payload]    request, to be answered once
    [2, request_id, payload]    successful response
    [3, request_id, code]       error response (the answering side's error code)

Payloads are opaque bytes: p2p never looks inside them.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum

from ledger import cbor
from ledger.errors import DecodeError

ENVELOPE_BYTES_OVERHEAD = 32  # array header, kind, request id, byte-string header
ERROR_CODE_CHARS_MAX = 64
REQUEST_ID_MAX = 2**63 - 1


class FrameKind(IntEnum):
    MESSAGE = 0
    REQUEST = 1
    RESPONSE = 2
    ERROR = 3


@dataclass(frozen=True, slots=True)
class Frame:
    kind: FrameKind
    request_id: int  # 0 for one-way messages
    payload: bytes  # for ERROR frames the UTF-8 error code

    @property
    def error_code(self) -> str:
        return self.payload.decode("utf-8", errors="replace")


def encode_frame(frame: Frame) -> bytes:
    if frame.kind is FrameKind.MESSAGE:
        return cbor.encode([int(frame.kind), frame.payload])
    if frame.kind is FrameKind.ERROR:
        return cbor.encode([int(frame.kind), frame.request_id, frame.error_code])
    return cbor.encode([int(frame.kind), frame.request_id, frame.payload])


def decode_frame(data: bytes, *, payload_bytes_max: int) -> Frame:
    """Decode one envelope; raises DecodeError (a fault of the sender) when it is malformed."""
    value = cbor.decode(data, bytes_max=payload_bytes_max + ENVELOPE_BYTES_OVERHEAD, depth_max=2)
    if not isinstance(value, list) or not value:
        raise DecodeError("a frame is a non-empty CBOR array")
    kind_value = cbor.expect_int(value[0], "frame kind", low=0, high=len(FrameKind) - 1)
    kind = FrameKind(kind_value)
    if kind is FrameKind.MESSAGE:
        if len(value) != 2:
            raise DecodeError("a message frame is [0, payload]")
        payload = cbor.expect_bytes(value[1], "payload", size_max=payload_bytes_max)
        return Frame(kind, 0, payload)
    if len(value) != 3:
        raise DecodeError("a request or response frame is [kind, request_id, body]")
    request_id = cbor.expect_int(value[1], "request id", low=1, high=REQUEST_ID_MAX)
    if kind is FrameKind.ERROR:
        code = cbor.expect_text(value[2], "error code", size_max=ERROR_CODE_CHARS_MAX)
        return Frame(kind, request_id, code.encode("utf-8"))
    payload = cbor.expect_bytes(value[2], "payload", size_max=payload_bytes_max)
    return Frame(kind, request_id, payload)


def make_error_frame(request_id: int, code: str) -> Frame:
    return Frame(FrameKind.ERROR, request_id, code[:ERROR_CODE_CHARS_MAX].encode("utf-8"))
