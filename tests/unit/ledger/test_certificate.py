"""Commit certificates: a quorum of distinct, known validators signing COMMIT for this very block."""

from __future__ import annotations

import dataclasses

import pytest

from ledger.certificate import (
    CommitCertificate,
    Vote,
    compute_commit_payload,
    compute_faults_max,
    compute_quorum,
    validate_block_certificate,
    validate_certificate,
)
from ledger.errors import CertificateInvalid, DecodeError, LedgerError
from ledger.types import Hash, Height, ValidatorIndex, View
from tests.unit.ledger.factory import (
    CHAIN_ID,
    flip_to_high_s,
    get_key,
    get_validator_keys,
    make_block,
    make_certificate,
    make_vote,
)

BLOCK = make_block((), height=5, view=2)
KEYS = get_validator_keys(4)


def validate(certificate: CommitCertificate, *, keys: tuple[bytes, ...] = KEYS, height: int = 5) -> None:
    validate_certificate(
        certificate, chain_id=CHAIN_ID, validator_keys=keys, block_hash=BLOCK.hash, height=Height(height)
    )


@pytest.mark.parametrize(
    ("validators", "quorum", "faults"), [(1, 1, 0), (4, 3, 1), (7, 5, 2), (10, 7, 3), (100, 67, 33)]
)
def test_quorum_is_2f_plus_1_for_3f_plus_1_validators(validators: int, quorum: int, faults: int) -> None:
    assert compute_quorum(validators) == quorum
    assert compute_faults_max(validators) == faults


def test_any_two_quorums_share_an_honest_validator_and_honest_ones_suffice() -> None:
    for validators in range(1, 101):
        quorum, faults = compute_quorum(validators), compute_faults_max(validators)
        assert 3 * faults < validators
        assert 2 * quorum - validators > faults, validators  # overlap of two quorums exceeds the faulty
        assert quorum <= validators - faults, validators  # liveness: the honest alone form a quorum


@pytest.mark.parametrize("voters", [(0, 1, 2), (1, 2, 3), (3, 0, 2), (0, 1, 2, 3)])
def test_a_quorum_of_valid_votes_is_accepted(voters: tuple[int, ...]) -> None:
    validate(make_certificate(BLOCK, voters))


def test_certificate_round_trips_through_cbor_and_json() -> None:
    certificate = make_certificate(BLOCK, (0, 1, 3))
    decoded = CommitCertificate.decode(certificate.encode())
    assert decoded == certificate
    validate(decoded)
    document = certificate.to_json()
    assert document["block_hash"] == BLOCK.hash.hex()
    assert [vote["validator"] for vote in document["votes"]] == [0, 1, 3]
    assert CommitCertificate.from_json(document) == certificate


def test_json_with_bytes_that_are_not_hex_is_refused() -> None:
    document = make_certificate(BLOCK, (0, 1, 3)).to_json()
    with pytest.raises(DecodeError, match="hex"):
        CommitCertificate.from_json({**document, "block_hash": "zz" * 32})
    with pytest.raises(DecodeError):
        CommitCertificate.from_json({**document, "votes": [{"validator": 0}]})


def test_a_block_certificate_is_checked_against_the_block_or_its_header() -> None:
    certificate = make_certificate(BLOCK, (0, 1, 2))
    for named in (BLOCK, BLOCK.header):
        validate_block_certificate(certificate, named, chain_id=CHAIN_ID, validator_keys=KEYS)
    other = make_block((), height=6, view=2)
    with pytest.raises(CertificateInvalid, match="another block"):
        validate_block_certificate(certificate, other, chain_id=CHAIN_ID, validator_keys=KEYS)


def test_too_few_votes_are_refused() -> None:
    with pytest.raises(CertificateInvalid, match="quorum"):
        validate(make_certificate(BLOCK, (0, 1)))
    with pytest.raises(CertificateInvalid):
        validate(make_certificate(BLOCK, ()))


def test_duplicate_voter_does_not_count_twice() -> None:
    with pytest.raises(CertificateInvalid, match="twice"):
        validate(make_certificate(BLOCK, (0, 1, 1)))


@pytest.mark.parametrize("index", [4, 99])
def test_vote_from_an_unknown_index_is_refused(index: int) -> None:
    certificate = make_certificate(BLOCK, (0, 1, 2))
    stranger = Vote(ValidatorIndex(index), get_key(100 + index + 1).sign(b"anything"))
    with pytest.raises(CertificateInvalid, match="unknown"):
        validate(dataclasses.replace(certificate, votes=(*certificate.votes, stranger)))


def test_bad_signature_is_refused_even_with_a_quorum_besides() -> None:
    certificate = make_certificate(BLOCK, (0, 1, 2))
    forged = Vote(ValidatorIndex(3), get_key(999).sign(b"not a commit"))
    with pytest.raises(CertificateInvalid, match="does not verify"):
        validate(dataclasses.replace(certificate, votes=(*certificate.votes, forged)))


def test_high_s_twin_of_a_vote_is_refused() -> None:
    certificate = make_certificate(BLOCK, (0, 1, 2))
    first = certificate.votes[0]
    twin = Vote(first.validator, flip_to_high_s(first.signature))
    with pytest.raises(CertificateInvalid):
        validate(dataclasses.replace(certificate, votes=(twin, *certificate.votes[1:])))


def test_vote_signed_by_the_wrong_validator_is_refused() -> None:
    certificate = make_certificate(BLOCK, (0, 1, 2))
    swapped = Vote(ValidatorIndex(3), certificate.votes[2].signature)  # validator 2's signature under index 3
    with pytest.raises(CertificateInvalid):
        validate(dataclasses.replace(certificate, votes=(*certificate.votes[:2], swapped)))


def test_certificate_for_another_block_or_height_is_refused() -> None:
    other = make_block((), height=6, view=2)
    with pytest.raises(CertificateInvalid):
        validate(make_certificate(other))  # other hash and height
    with pytest.raises(CertificateInvalid):
        validate(make_certificate(BLOCK), height=6)
    relabelled = dataclasses.replace(make_certificate(BLOCK), block_hash=other.hash)
    with pytest.raises(CertificateInvalid):
        validate(relabelled)


def test_votes_for_another_view_or_chain_are_refused() -> None:
    certificate = make_certificate(BLOCK)
    with pytest.raises(CertificateInvalid):
        validate(dataclasses.replace(certificate, view=View(3)))
    foreign = tuple(make_vote(index, BLOCK, chain_id="hubledger-other") for index in (0, 1, 2))
    with pytest.raises(CertificateInvalid):
        validate(dataclasses.replace(certificate, votes=foreign))


def test_votes_from_different_views_do_not_combine() -> None:
    votes = (make_vote(0, BLOCK), make_vote(1, BLOCK), make_vote(2, BLOCK, view=3))
    with pytest.raises(CertificateInvalid):
        validate(dataclasses.replace(make_certificate(BLOCK), votes=votes))


def test_an_empty_validator_set_proves_nothing() -> None:
    empty = CommitCertificate(Height(5), View(2), BLOCK.hash, ())
    with pytest.raises(CertificateInvalid):
        validate(empty, keys=())


def test_commit_payload_binds_chain_view_height_and_hash() -> None:
    base = compute_commit_payload(CHAIN_ID, View(2), Height(5), BLOCK.hash)
    assert base.startswith(b"hubledger/commit\n")
    assert base != compute_commit_payload("other", View(2), Height(5), BLOCK.hash)
    assert base != compute_commit_payload(CHAIN_ID, View(3), Height(5), BLOCK.hash)
    assert base != compute_commit_payload(CHAIN_ID, View(2), Height(6), BLOCK.hash)
    assert base != compute_commit_payload(CHAIN_ID, View(2), Height(5), Hash(b"\x00" * 32))


@pytest.mark.parametrize(
    "votes",
    [[[0]], [[0, b"\x00" * 64, 1]], [[0, b"\x00" * 63]], [["0", b"\x00" * 64]], [[-1, b"\x00" * 64]], [{}]],
    ids=["one-item", "three-items", "short-signature", "text-index", "negative-index", "map"],
)
def test_malformed_certificate_encodings_are_refused(votes: list[object]) -> None:
    from ledger import cbor

    fields = make_certificate(BLOCK).to_cbor_map()
    fields["votes"] = votes
    with pytest.raises((DecodeError, CertificateInvalid)) as caught:
        CommitCertificate.decode(cbor.encode(fields))
    assert isinstance(caught.value, LedgerError)
