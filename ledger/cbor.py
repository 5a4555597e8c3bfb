"""Canonical CBOR (RFC 8949 deterministic encoding) and a strict decoder.

Everything HubLedger hashes or signs is encoded here. The decoder accepts only
the canonical encoding: it decodes, then re-encodes and compares byte for byte,
so a second spelling of the same value (long-form lengths, unsorted or duplicate
map keys, indefinite lengths, bignums for small integers) is refused. The value
space is deliberately small: integers within 64 bits, text, bytes, booleans,
null, arrays and maps with text keys. Floats and tags are refused because they
have no place in money or in anything whose hash must be reproducible.

Within that value space the only thing cbor2's canonical mode does that its
plain mode does not is sort map keys, and sorting costs: a transfer encodes in
5 us canonically, 1 us plainly. So the walk that checks the value space also
checks whether every map's keys already stand in canonical order (shorter
encoding first, then bytewise: ``_key_precedes``), and the plain encoder is used
when they do. Decoding refuses out-of-order keys during that walk, then compares
the plain re-encoding byte for byte, which catches every other second spelling.
"""

from collections.abc import Mapping, Sequence
from typing import Any, TypeAlias

import cbor2

from ledger.errors import DecodeError, TooLarge

Value: TypeAlias = Any  # int | str | bytes | bool | None | list[Value] | dict[str, Value]

DEPTH_MAX = 16
INT_MIN = -(2**64)
INT_MAX = 2**64 - 1


def encode(value: Value) -> bytes:
    """Encode ``value`` canonically; raises DecodeError if it holds a type outside the value space."""
    in_order = _walk(value, 0)
    return cbor2.dumps(value) if in_order else cbor2.dumps(value, canonical=True)


def decode(data: bytes, *, bytes_max: int, depth_max: int = DEPTH_MAX) -> Value:
    """Decode canonical CBOR of at most ``bytes_max`` bytes, refusing anything else."""
    value = decode_unchecked_form(data, bytes_max=bytes_max, depth_max=depth_max)
    if encode_decoded(value) != data:
        raise DecodeError("CBOR is not in canonical (deterministic) form")
    return value


def encode_decoded(value: Value) -> bytes:
    """The canonical encoding of a value (or any part of one) that ``decode_unchecked_form``
    returned: its maps are in canonical order already, so the plain encoder gives it."""
    return cbor2.dumps(value)


def decode_unchecked_form(data: bytes, *, bytes_max: int, depth_max: int = DEPTH_MAX) -> Value:
    """Decode CBOR into the value space like ``decode``, refusing maps whose keys are out of
    canonical order, but leave the byte-for-byte check that ``data`` is the canonical spelling
    to the caller, who can do it more cheaply (a block re-encodes from its transactions'
    encodings, which it needs anyway)."""
    if len(data) > bytes_max:
        raise TooLarge(f"encoding is {len(data)} bytes, over the limit of {bytes_max}")
    try:
        value = cbor2.loads(
            data,
            max_depth=depth_max,
            allow_indefinite=False,
            allow_duplicate_keys=False,
        )
    except (cbor2.CBORDecodeError, ValueError, TypeError, RecursionError) as error:
        raise DecodeError(f"not valid CBOR: {error}") from None
    if not _walk(value, 0):
        raise DecodeError("CBOR is not in canonical (deterministic) form: map keys are out of order")
    return value


def encode_uint(value: int) -> bytes:
    """The canonical encoding of an unsigned integer, without the generic encoder's overhead."""
    return encode_head(0, value)


def encode_head(major_type: int, argument: int) -> bytes:
    """The canonical head of a data item: its major type (0 unsigned, 4 array, 5 map, ...)
    and its argument (the value, the length or the count) in the shortest form."""
    if not 0 <= argument <= INT_MAX:
        raise DecodeError("integer does not fit in 64 bits")
    if argument < 24:
        return bytes((major_type << 5 | argument,))
    for head, size in _UINT_HEADS:
        if argument < 1 << (8 * size):
            return bytes((major_type << 5 | head,)) + argument.to_bytes(size, "big")
    raise DecodeError("integer does not fit in 64 bits")  # unreachable: INT_MAX fits 8 bytes


def decode_uint(data: bytes) -> int:
    """Decode a canonical CBOR unsigned integer, refusing anything else, exactly as
    ``decode`` would for that value; faster because it never builds a generic value."""
    if data and data[0] < 24 and len(data) == 1:
        return data[0]
    for head, size in _UINT_HEADS:
        if data[:1] == bytes((head,)) and len(data) == size + 1:
            value = int.from_bytes(data[1:], "big")
            if value < (24 if size == 1 else 1 << (4 * size)):
                raise DecodeError("CBOR is not in canonical (deterministic) form")
            return value
    value = decode(data, bytes_max=16)
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise DecodeError("value is not an unsigned integer")
    return value


_UINT_HEADS = ((0x18, 1), (0x19, 2), (0x1A, 4), (0x1B, 8))


def validate_value(value: Value, *, depth: int) -> None:
    """Raise DecodeError unless ``value`` lies within the canonical value space."""
    _walk(value, depth)


def _walk(value: Value, depth: int) -> bool:
    """Raise DecodeError unless ``value`` lies within the value space; return whether every
    map in it has its keys in canonical order."""
    if depth > DEPTH_MAX:
        raise DecodeError(f"value is nested deeper than {DEPTH_MAX} levels")
    kind = type(value)
    if kind is dict:
        return _walk_map(value, depth)
    if kind is list or kind is tuple:
        in_order = True
        for item in value:
            in_order = _walk_item(item, depth + 1) and in_order
        return in_order
    return _walk_item(value, depth)


def _walk_item(value: Value, depth: int) -> bool:
    # This runs for every value encoded or decoded, so scalars are checked here without a
    # further call, and an exact type test (several times cheaper than a chain of isinstance
    # calls) comes first; only subclasses (an IntEnum) need the chain.
    if depth > DEPTH_MAX:
        raise DecodeError(f"value is nested deeper than {DEPTH_MAX} levels")
    kind = type(value)
    if kind is str:
        if not value.isascii():
            validate_text(value)
    elif kind is int:
        if not INT_MIN <= value <= INT_MAX:
            raise DecodeError("integer does not fit in 64 bits")
    elif kind is bytes or kind is bool or value is None:
        pass
    elif kind is dict or kind is list or kind is tuple:
        return _walk(value, depth)
    else:
        return _walk(_as_value_type(value), depth)
    return True


def _walk_map(value: dict[Any, Value], depth: int) -> bool:
    in_order = True
    previous = None
    for key, item in value.items():
        if type(key) is not str:
            if not isinstance(key, str):
                raise DecodeError("map keys must be text strings")
            key = str(key)
        if not key.isascii():
            validate_text(key)
        if previous is not None and in_order:
            in_order = _key_precedes(previous, key)
        previous = key
        in_order = _walk_item(item, depth + 1) and in_order
    return in_order


def in_canonical_order(mapping: Mapping[str, Value]) -> dict[str, Value]:
    """A copy of ``mapping`` (its top level) with its keys in canonical order."""
    return dict(sorted(mapping.items(), key=_canonical_key))


def _canonical_key(item: tuple[str, Value]) -> tuple[int, bytes]:
    encoded = item[0].encode("utf-8")
    return len(encoded), encoded


def _key_precedes(first: str, second: str) -> bool:
    """Whether text key ``first`` comes before ``second`` in canonical order: the shorter
    UTF-8 encoding first, then bytewise (for text keys RFC 8949's bytewise order of the
    whole encodings and the length-first order of RFC 7049, which cbor2 uses, agree)."""
    if first.isascii() and second.isascii():  # then code points are the bytes
        return len(first) < len(second) or (len(first) == len(second) and first < second)
    first_bytes, second_bytes = first.encode("utf-8"), second.encode("utf-8")
    return (len(first_bytes), first_bytes) < (len(second_bytes), second_bytes)


def _as_value_type(value: Value) -> Value:
    """A subclass instance (an IntEnum, a str subclass) as the plain value it encodes as."""
    if isinstance(value, bool):  # before int: a bool is one
        return bool(value)
    if isinstance(value, int):
        return int(value)
    if isinstance(value, str):
        return str(value)
    if isinstance(value, bytes):
        return bytes(value)
    if isinstance(value, list | tuple):
        return list(value)
    if isinstance(value, dict):
        return dict(value)
    raise DecodeError(f"type {type(value).__name__} is not allowed in HubLedger CBOR")


def validate_text(value: str) -> None:
    """Raise DecodeError unless ``value`` has a UTF-8 encoding.

    Python strings may hold lone surrogates (json.loads makes one of "\\ud800");
    they have no CBOR encoding, so they are refused here rather than deep in the encoder.
    """
    if value.isascii():
        return
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise DecodeError("text holds a lone surrogate and is not valid Unicode") from None


def expect_map(value: Value, required: Sequence[str], what: str) -> Mapping[str, Value]:
    """Check that ``value`` is a map with exactly the ``required`` keys."""
    if not isinstance(value, dict):
        raise DecodeError(f"{what} must be a map")
    if len(value) == len(required) and all(name in value for name in required):
        return value  # the usual case, without building the sets an error message needs
    keys = set(value)
    missing = [name for name in required if name not in keys]
    unknown = sorted(keys.difference(required))
    if missing:
        raise DecodeError(f"{what} is missing field(s): {', '.join(missing)}")
    if unknown:
        raise DecodeError(f"{what} has unknown field(s): {', '.join(unknown)}")
    return value


def expect_int(value: Value, what: str, *, low: int = 0, high: int = 2**63 - 1) -> int:
    if not isinstance(value, int) or isinstance(value, bool):
        raise DecodeError(f"{what} must be an integer")
    if not low <= value <= high:
        raise DecodeError(f"{what} must be between {low} and {high}")
    return value


def expect_bytes(value: Value, what: str, *, size: int | None = None, size_max: int = 1 << 20) -> bytes:
    if not isinstance(value, bytes):
        raise DecodeError(f"{what} must be a byte string")
    if size is not None and len(value) != size:
        raise DecodeError(f"{what} must be exactly {size} bytes")
    if len(value) > size_max:
        raise DecodeError(f"{what} is longer than {size_max} bytes")
    return value


def expect_text(value: Value, what: str, *, size_max: int = 256) -> str:
    if not isinstance(value, str):
        raise DecodeError(f"{what} must be a text string")
    if len(value) > size_max:
        raise DecodeError(f"{what} is longer than {size_max} characters")
    validate_text(value)
    return value


def expect_list(value: Value, what: str, *, count_max: int) -> list[Value]:
    if not isinstance(value, list):
        raise DecodeError(f"{what} must be an array")
    if len(value) > count_max:
        raise DecodeError(f"{what} has more than {count_max} items")
    return value
