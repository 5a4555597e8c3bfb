"""The door's memory: a message seen again is not decoded or verified again; forgeries are never kept."""

from __future__ import annotations

import pytest

from consensus import message_door, messages
from consensus.errors import PeerFault
from consensus.message_door import VerifiedMessages, decode_message
from consensus.messages import Checkpoint, Prepare, PreparedCertificate, SignedMessage, ViewChange
from ledger.types import Hash, Height, View
from tests.unit.consensus.fake_chain import CHAIN_ID, GENESIS_HASH
from tests.unit.consensus.test_messages_and_evidence import KEYS, sign
from tests.unit.consensus.test_restart import make_proposal


def decode(data: bytes, verified: VerifiedMessages) -> SignedMessage:
    return decode_message(data, chain_id=CHAIN_ID, validator_keys=KEYS, verified=verified)


def count_verifications(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    calls = [0]
    real = messages.is_signed_by

    def counting(message: SignedMessage, keys: object) -> bool:
        calls[0] += 1
        return real(message, keys)  # type: ignore[arg-type]

    monkeypatch.setattr(message_door, "is_signed_by", counting)  # where the door looks it up
    return calls


def make_view_change(sender: int) -> tuple[SignedMessage, SignedMessage]:
    proposal = make_proposal(0)
    prepare = sign(Prepare(View(0), Height(1), proposal.body.block.hash), 2)  # type: ignore[union-attr]
    body = ViewChange(View(1), Height(0), GENESIS_HASH, (), (PreparedCertificate(proposal, (prepare,)),))
    return proposal, sign(body, sender)


def test_a_pre_prepare_seen_before_is_not_verified_again_inside_a_view_change(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    verified = VerifiedMessages()
    proposal, view_change = make_view_change(3)
    calls = count_verifications(monkeypatch)
    first = decode(proposal.encode(), verified)
    assert calls[0] == 1
    decoded = decode(view_change.encode(), verified)
    assert calls[0] == 3  # the VIEW-CHANGE and its PREPARE; the PRE-PREPARE was known
    assert decoded.body.prepared[0].pre_prepare is first  # type: ignore[union-attr]
    assert decode(view_change.encode(), verified) is decoded and calls[0] == 3


def test_a_forgery_is_refused_every_time_and_never_remembered(monkeypatch: pytest.MonkeyPatch) -> None:
    verified = VerifiedMessages()
    forged = sign(Prepare(View(0), Height(1), Hash(b"a" * 32)), 2, secret=103)
    for _ in range(2):
        with pytest.raises(PeerFault, match="does not verify"):
            decode(forged.encode(), verified)
    assert len(verified) == 0


def test_what_is_remembered_is_bounded_by_count_and_by_bytes() -> None:
    checkpoints = [sign(Checkpoint(Height(height), Hash(b"c" * 32)), 1) for height in range(1, 11)]
    by_count = VerifiedMessages(entries_max=3)
    for message in checkpoints:
        decode(message.encode(), by_count)
    assert len(by_count) == 3
    assert by_count.get(checkpoints[-1].encode()) is not None
    assert by_count.get(checkpoints[0].encode()) is None
    size = len(checkpoints[0].encode())
    by_bytes = VerifiedMessages(bytes_max=size * 4)
    for message in checkpoints:
        decode(message.encode(), by_bytes)
    assert len(by_bytes) == 4
