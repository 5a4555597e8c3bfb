"""The handshake that opens every link: both sides prove which validator they are.

Each side sends a hello with its chain id, its validator index and a fresh
32-byte random challenge. Each then signs, with its validator key, the
canonical CBOR of [domain tag, chain id, its own index, the OTHER side's
challenge] and sends the signature. A signature therefore answers exactly
one challenge of one link on one chain for one index: it cannot be replayed
on another link, another chain or under another validator's name.

A hello is checked before we sign anything (wrong chain, an index that is not
a validator, or not the one we dialled, ends the link); the proof is checked
against the key genesis gives for the claimed index. Over TLS (tls.py) the
signed message also carries the session binding, and the peer's certificate
must name the hub of the index its hello claims, checked before we sign. Last, each side that is
satisfied (and has not banned the other) sends an accept frame, and a link
counts as up only once both accepts crossed: neither side ever believes in a
link the other refused.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass

from ledger import cbor
from ledger.errors import DecodeError
from ledger.keys import SIGNATURE_BYTES, PrivateKey, verify_signature

HANDSHAKE_DOMAIN = "hubledger/p2p-handshake/v2"
CHALLENGE_BYTES = 32
HANDSHAKE_FRAME_BYTES_MAX = 1024
CHAIN_ID_CHARS_MAX = 64


@dataclass(frozen=True, slots=True)
class Hello:
    chain_id: str
    index: int
    challenge: bytes


def make_challenge() -> bytes:
    return secrets.token_bytes(CHALLENGE_BYTES)


def encode_hello(hello: Hello) -> bytes:
    return cbor.encode({"chain_id": hello.chain_id, "index": hello.index, "challenge": hello.challenge})


def decode_hello(data: bytes) -> Hello:
    value = cbor.decode(data, bytes_max=HANDSHAKE_FRAME_BYTES_MAX)
    fields = cbor.expect_map(value, ("chain_id", "index", "challenge"), "handshake hello")
    return Hello(
        chain_id=cbor.expect_text(fields["chain_id"], "chain_id", size_max=CHAIN_ID_CHARS_MAX),
        index=cbor.expect_int(fields["index"], "validator index", high=2**32),
        challenge=cbor.expect_bytes(fields["challenge"], "challenge", size=CHALLENGE_BYTES),
    )


def compute_proof_message(chain_id: str, signer_index: int, challenge: bytes, binding: bytes) -> bytes:
    """``binding`` ties the proof to one TLS session (tls.compute_session_binding); empty without TLS."""
    return cbor.encode([HANDSHAKE_DOMAIN, chain_id, signer_index, challenge, binding])


def encode_proof(
    key: PrivateKey, chain_id: str, self_index: int, peer_challenge: bytes, binding: bytes = b""
) -> bytes:
    signature = key.sign(compute_proof_message(chain_id, self_index, peer_challenge, binding))
    return cbor.encode({"signature": signature})


def decode_proof(data: bytes) -> bytes:
    value = cbor.decode(data, bytes_max=HANDSHAKE_FRAME_BYTES_MAX)
    fields = cbor.expect_map(value, ("signature",), "handshake proof")
    return cbor.expect_bytes(fields["signature"], "signature", size=SIGNATURE_BYTES)


def get_hello_refusal(
    hello: Hello,
    *,
    chain_id: str,
    validator_count: int,
    self_index: int,
    expected_index: int | None,
) -> str | None:
    """Why a hello is refused before we sign anything for it, or None when it may go on.

    ``expected_index`` is the peer we dialled; None on the accepting side, where
    only a lower index may dial us (the lower index of a pair always dials).
    """
    if hello.chain_id != chain_id:
        return "chain_id"
    if not 0 <= hello.index < validator_count or hello.index == self_index:
        return "not_a_validator"
    if expected_index is not None and hello.index != expected_index:
        return "unexpected_index"
    if expected_index is None and hello.index > self_index:
        return "wrong_direction"
    return None


def is_proof_valid(
    signature: bytes,
    *,
    chain_id: str,
    validator_keys: Sequence[bytes],
    peer_index: int,
    own_challenge: bytes,
    binding: bytes = b"",
) -> bool:
    message = compute_proof_message(chain_id, peer_index, own_challenge, binding)
    return verify_signature(validator_keys[peer_index], message, signature)


def encode_accept() -> bytes:
    return cbor.encode({"accept": True})


def decode_accept(data: bytes) -> None:
    value = cbor.decode(data, bytes_max=HANDSHAKE_FRAME_BYTES_MAX)
    fields = cbor.expect_map(value, ("accept",), "handshake accept")
    if fields["accept"] is not True:
        raise DecodeError("handshake accept must be true")
