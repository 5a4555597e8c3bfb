"""A handshake proof answers one challenge, for one index, on one chain, with that index's key."""

from __future__ import annotations

import ssl

import pytest

from ledger import cbor
from ledger.errors import DecodeError
from ledger.keys import PrivateKey
from ledger.tls_identity import Identity, Role
from p2p.handshake import (
    Hello,
    decode_accept,
    decode_hello,
    decode_proof,
    encode_hello,
    encode_proof,
    get_hello_refusal,
    is_proof_valid,
    make_challenge,
)
from p2p.tls import PeerTls, TlsSession

KEYS = [PrivateKey.from_secret(100 + index) for index in range(4)]
VALIDATOR_KEYS = [key.public_key.data for key in KEYS]
CHAIN = "hubledger-test"


def make_proof(signer: int, challenge: bytes, *, chain_id: str = CHAIN, claimed: int | None = None) -> bytes:
    index = signer if claimed is None else claimed
    return decode_proof(encode_proof(KEYS[signer], chain_id, index, challenge))


def check(signature: bytes, peer_index: int, challenge: bytes) -> bool:
    return is_proof_valid(
        signature,
        chain_id=CHAIN,
        validator_keys=VALIDATOR_KEYS,
        peer_index=peer_index,
        own_challenge=challenge,
    )


def test_a_validator_proves_its_own_index() -> None:
    challenge = make_challenge()
    assert check(make_proof(2, challenge), 2, challenge)


def test_a_proof_does_not_answer_another_challenge_chain_or_index() -> None:
    challenge, other = make_challenge(), make_challenge()
    assert challenge != other
    assert not check(make_proof(2, other), 2, challenge)
    assert not check(make_proof(2, challenge, chain_id="other-chain"), 2, challenge)
    assert not check(make_proof(2, challenge, claimed=1), 1, challenge)  # key 2 posing as 1
    assert not check(make_proof(2, challenge), 1, challenge)


def test_hello_round_trips_and_malformed_hellos_are_refused() -> None:
    hello = Hello(CHAIN, 3, make_challenge())
    assert decode_hello(encode_hello(hello)) == hello
    for bad in (
        cbor.encode({"chain_id": CHAIN, "index": 3}),
        cbor.encode({"chain_id": CHAIN, "index": 3, "challenge": b"short"}),
        cbor.encode({"chain_id": CHAIN, "index": -1, "challenge": bytes(32)}),
        cbor.encode({"chain_id": CHAIN, "index": 3, "challenge": bytes(32), "extra": 1}),
        b"\x00" * 2000,
    ):
        with pytest.raises(DecodeError):
            decode_hello(bad)
    with pytest.raises(DecodeError):
        decode_accept(cbor.encode({"accept": False}))


@pytest.mark.parametrize(
    ("hello_chain", "hello_index", "expected_index", "refusal"),
    [
        (CHAIN, 0, None, None),  # the lower index dials us
        (CHAIN, 3, None, "wrong_direction"),  # a higher index must not dial
        ("other-chain", 0, None, "chain_id"),
        (CHAIN, 4, None, "not_a_validator"),
        (CHAIN, 2, None, "not_a_validator"),  # ourselves
        (CHAIN, 3, 3, None),  # the peer we dialled
        (CHAIN, 1, 3, "unexpected_index"),
    ],
)
def test_hello_refusals(
    hello_chain: str, hello_index: int, expected_index: int | None, refusal: str | None
) -> None:
    hello = Hello(hello_chain, hello_index, make_challenge())
    found = get_hello_refusal(
        hello, chain_id=CHAIN, validator_count=4, self_index=2, expected_index=expected_index
    )
    assert found == refusal


def _session(unique: bytes, peer_certificate: bytes) -> TlsSession:
    return TlsSession(Identity(Role.HUB, "any"), peer_certificate, unique)


def test_a_proof_is_bound_to_one_tls_session_and_its_two_certificates() -> None:
    """Both sides compute the same binding, mirrored; a proof made in another session does not verify."""
    ssl_contexts = (ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER), ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT))
    dialler = PeerTls(*ssl_contexts, own_certificate_hash=b"D" * 32, hub_names=("a", "b"))
    acceptor = PeerTls(*ssl_contexts, own_certificate_hash=b"A" * 32, hub_names=("a", "b"))
    unique = b"client finished of this session"
    dialler_signs, dialler_expects = dialler.compute_bindings(_session(unique, b"A" * 32))
    acceptor_signs, acceptor_expects = acceptor.compute_bindings(_session(unique, b"D" * 32))
    assert (dialler_signs, dialler_expects) == (acceptor_expects, acceptor_signs)
    assert dialler_signs != acceptor_signs

    challenge = make_challenge()
    signature = decode_proof(encode_proof(KEYS[1], CHAIN, 1, challenge, dialler_signs))

    def verifies(binding: bytes) -> bool:
        return is_proof_valid(
            signature,
            chain_id=CHAIN,
            validator_keys=VALIDATOR_KEYS,
            peer_index=1,
            own_challenge=challenge,
            binding=binding,
        )

    assert verifies(acceptor_expects)
    # Relayed into another session, or made over another certificate: refused.
    other_session, _ = dialler.compute_bindings(_session(b"another session", b"A" * 32))
    other_certificate, _ = dialler.compute_bindings(_session(unique, b"M" * 32))
    for binding in (other_session, other_certificate, b""):
        assert not verifies(binding)
