"""The one door for peer input, absurd messages, and evidence of equivocation."""

from __future__ import annotations

import pytest

from consensus.actions import RecordEvidence
from consensus.errors import PeerFault
from consensus.evidence import Evidence, validate_evidence
from consensus.message_door import decode_message
from consensus.messages import (
    Checkpoint,
    Commit,
    NewView,
    Prepare,
    PreparedCertificate,
    RequestBatch,
    SignedMessage,
    ViewChange,
    sign_message,
)
from ledger.types import Hash, Height, ValidatorIndex, View
from tests.unit.consensus.fake_chain import CHAIN_ID, GENESIS_HASH, get_key, make_config, make_transactions
from tests.unit.consensus.test_restart import NOW_MS, make_proposal, make_replica

KEYS = make_config(4, 0).validator_keys
HASH_A, HASH_B = Hash(b"a" * 32), Hash(b"b" * 32)


def sign(body: object, sender: int, *, chain_id: str = CHAIN_ID, secret: int | None = None) -> SignedMessage:
    key = get_key(100 + sender if secret is None else secret)
    return sign_message(body, chain_id=chain_id, sender=ValidatorIndex(sender), key=key)  # type: ignore[arg-type]


def decode(data: bytes) -> SignedMessage:
    return decode_message(data, chain_id=CHAIN_ID, validator_keys=KEYS)


def test_every_kind_of_message_round_trips_through_the_door() -> None:
    proposal = make_proposal(0)
    prepares = tuple(sign(Prepare(View(0), Height(1), proposal.body.block.hash), i) for i in (1, 2))  # type: ignore[union-attr]
    checkpoint = sign(Checkpoint(Height(50), HASH_A), 2)
    view_change = sign(
        ViewChange(
            View(1), Height(0), GENESIS_HASH, (checkpoint,), (PreparedCertificate(proposal, prepares),)
        ),
        3,
    )
    bodies = [
        proposal,
        prepares[0],
        sign(Commit(View(0), Height(1), HASH_A), 1),
        checkpoint,
        view_change,
        sign(NewView(View(1), (view_change,), (proposal,)), 1),
        sign(RequestBatch(tuple(make_transactions(0, 3))), 2),
    ]
    for message in bodies:
        decoded = decode(message.encode())
        assert decoded.encode() == message.encode() and decoded.kind == message.kind


@pytest.mark.parametrize(
    ("make", "reason"),
    [
        (lambda: sign(Prepare(View(0), Height(1), HASH_A), 2, chain_id="other-chain"), "other_chain"),
        (lambda: sign(Prepare(View(0), Height(1), HASH_A), 9, secret=109), "non_member"),
        (lambda: sign(Prepare(View(0), Height(1), HASH_A), 2, secret=103), "bad_signature"),
        (lambda: sign(Prepare(View(2**63), Height(1), HASH_A), 2), "malformed"),
        (lambda: sign(Commit(View(0), Height(2**63), HASH_A), 2), "malformed"),
    ],
)
def test_foreign_forged_and_absurd_messages_raise_peer_fault(make: object, reason: str) -> None:
    message = make()  # type: ignore[operator]
    with pytest.raises(PeerFault) as raised:
        decode(message.encode())
    assert raised.value.reason == reason and raised.value.code == reason.upper()


def test_garbage_and_nested_forgeries_raise_peer_fault() -> None:
    with pytest.raises(PeerFault, match="CBOR"):
        decode(b"\xff\x00garbage")
    forged_checkpoint = sign(Checkpoint(Height(50), HASH_A), 2, secret=101)  # signed by 1, claims 2
    view_change = sign(ViewChange(View(1), Height(50), HASH_A, (forged_checkpoint,), ()), 3)
    with pytest.raises(PeerFault) as raised:
        decode(view_change.encode())
    assert raised.value.reason == "bad_signature"


def test_absurd_views_are_dropped_and_counted_and_move_no_one() -> None:
    replica = make_replica(1, {})
    replica.start(NOW_MS)
    absurd = [
        sign(Prepare(View(2**62), Height(1), HASH_A), 2),
        sign(Commit(View(2**62), Height(1), HASH_A), 3),
        sign(ViewChange(View(2**62), Height(0), GENESIS_HASH, (), ()), 2),
        sign(ViewChange(View(2**62), Height(0), GENESIS_HASH, (), ()), 3),
        sign(NewView(View(2**62), (), ()), 2),
    ]
    for message in absurd:
        assert replica.on_message(decode(message.encode()), NOW_MS) == []
    status = replica.get_status()
    assert status.view == 0 and not status.view_change_in_progress
    assert status.dropped == {"view_too_far": 5}
    far = sign(Prepare(View(0), Height(10_000), HASH_A), 2)
    assert replica.on_message(far, NOW_MS) == []
    assert replica.faults["beyond_window"] == 1


def test_equivocating_primary_is_recorded_once() -> None:
    replica = make_replica(1, {})
    first, second, third = make_proposal(0), make_proposal(10), make_proposal(20)
    replica.on_message(first, NOW_MS)
    actions = replica.on_message(second, NOW_MS) + replica.on_message(third, NOW_MS)
    records = [action.evidence for action in actions if isinstance(action, RecordEvidence)]
    assert len(records) == 1
    evidence = records[0]
    assert evidence.validator == 0
    validate_evidence(evidence, KEYS)
    decoded = Evidence.decode(evidence.encode())
    assert decoded.id == evidence.id and decoded.encode() == evidence.encode()
    assert decoded.to_json()["kind"] == "pre_prepare" and decoded.to_json()["height"] == 1
    assert replica.get_status().evidence_recorded == 1


def test_conflicting_votes_from_a_backup_are_evidence() -> None:
    replica = make_replica(1, {})
    replica.on_message(make_proposal(0), NOW_MS)
    replica.on_message(sign(Commit(View(0), Height(1), HASH_A), 2), NOW_MS)
    actions = replica.on_message(sign(Commit(View(0), Height(1), HASH_B), 2), NOW_MS)
    [record] = [action for action in actions if isinstance(action, RecordEvidence)]
    validate_evidence(record.evidence, KEYS)
    with pytest.raises(PeerFault):
        validate_evidence(Evidence(ValidatorIndex(2), record.evidence.first, record.evidence.first), KEYS)


def test_one_view_change_alone_moves_no_one_but_f_plus_one_do() -> None:
    replica = make_replica(0, {})
    replica.on_message(sign(ViewChange(View(3), Height(0), GENESIS_HASH, (), ()), 2), NOW_MS)
    assert replica.view == 0  # a single (possibly faulty) replica cannot drag others along
    replica.on_message(sign(ViewChange(View(4), Height(0), GENESIS_HASH, (), ()), 3), NOW_MS)
    assert replica.view == 3 and replica.get_status().view_change_in_progress  # the smallest of the f + 1
