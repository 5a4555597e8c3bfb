"""Run the handshake of handshake.py over a freshly opened WebSocket."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence

from aiohttp import WSMsgType

from ledger.errors import DecodeError
from ledger.keys import PrivateKey
from p2p.errors import HandshakeRefused
from p2p.handshake import (
    Hello,
    decode_accept,
    decode_hello,
    decode_proof,
    encode_accept,
    encode_hello,
    encode_proof,
    get_hello_refusal,
    is_proof_valid,
    make_challenge,
)
from p2p.link import SEND_ERRORS, WebSocket
from p2p.tls import PeerTls, TlsSession


async def authenticate_peer(
    ws: WebSocket,
    *,
    chain_id: str,
    validator_keys: Sequence[bytes],
    self_index: int,
    key: PrivateKey,
    expected_index: int | None,
    timeout_ms: int,
    get_refusal: Callable[[int], str | None],
    on_proven: Callable[[], None] | None = None,
    tls: tuple[PeerTls, TlsSession] | None = None,
) -> int:
    """Prove who we are and check who the other side is; returns its validator index.

    Raises HandshakeRefused, whose ``code`` says why, for anything but a
    validator of this chain proving its index in time; ``get_refusal`` may
    refuse a proven validator too (a ban), before we accept. ``on_proven`` is
    called once the other side proved its index and is not refused, before we
    send our accept: before it, the other side sends nothing but handshake frames.
    ``tls`` is the hub's TLS and the link's session: the peer's certificate must
    name the hub of the index it claims, and both proofs sign the session binding.
    """
    try:
        async with asyncio.timeout(timeout_ms / 1000):
            challenge = make_challenge()
            await ws.send_bytes(encode_hello(Hello(chain_id, self_index, challenge)))
            hello = decode_hello(await _receive_binary(ws))
            refusal = get_hello_refusal(
                hello,
                chain_id=chain_id,
                validator_count=len(validator_keys),
                self_index=self_index,
                expected_index=expected_index,
            )
            if refusal is not None:
                raise HandshakeRefused(f"peer claiming index {hello.index} refused: {refusal}", code=refusal)
            ours, theirs = _get_bindings(tls, hello.index)
            await ws.send_bytes(encode_proof(key, chain_id, self_index, hello.challenge, ours))
            signature = decode_proof(await _receive_binary(ws))
            _check_proof(signature, chain_id, validator_keys, hello.index, challenge, theirs)
            refusal = get_refusal(hello.index)
            if refusal is not None:
                raise HandshakeRefused(f"validator {hello.index} refused: {refusal}", code=refusal)
            if on_proven is not None:
                on_proven()
            await ws.send_bytes(encode_accept())
            decode_accept(await _receive_binary(ws))
    except TimeoutError:
        raise HandshakeRefused("handshake timed out", code="timeout") from None
    except DecodeError as error:
        raise HandshakeRefused(f"malformed handshake frame: {error.message}", code="malformed") from None
    except SEND_ERRORS as error:
        raise HandshakeRefused(f"link lost during handshake: {error}", code="closed") from None
    return hello.index


def _get_bindings(tls: tuple[PeerTls, TlsSession] | None, peer_index: int) -> tuple[bytes, bytes]:
    """What we sign and what the peer must have signed; refuses a certificate of another hub."""
    if tls is None:
        return b"", b""
    hub_tls, session = tls
    refusal = hub_tls.get_identity_refusal(session, peer_index)
    if refusal is not None:
        raise HandshakeRefused(
            f"peer claiming index {peer_index} presented the certificate of {session.peer_identity}",
            code=refusal,
        )
    return hub_tls.compute_bindings(session)


def _check_proof(
    signature: bytes,
    chain_id: str,
    validator_keys: Sequence[bytes],
    peer_index: int,
    challenge: bytes,
    binding: bytes,
) -> None:
    valid = is_proof_valid(
        signature,
        chain_id=chain_id,
        validator_keys=validator_keys,
        peer_index=peer_index,
        own_challenge=challenge,
        binding=binding,
    )
    if not valid:
        raise HandshakeRefused(f"signature for index {peer_index} does not verify", code="bad_signature")


async def _receive_binary(ws: WebSocket) -> bytes:
    message = await ws.receive()
    if message.type is WSMsgType.BINARY:
        data: bytes = message.data
        return data
    if message.type is WSMsgType.TEXT:
        raise DecodeError("handshake frames are binary")
    if message.type is WSMsgType.CLOSE and message.extra:
        raise HandshakeRefused(f"the other side refused us: {message.extra}", code="refused_by_peer")
    raise HandshakeRefused(f"link closed during handshake ({message.type.name})", code="closed")
