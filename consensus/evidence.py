"""Evidence: two validly signed, conflicting messages from one validator for one slot.

Either message alone is honest; both together prove the validator signed two
different things where the protocol allows one (two blocks proposed for one
view and height, or two digests voted for one). Anyone holding the validator
keys can check evidence offline with ``validate_evidence``.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Any

from consensus.errors import PeerFault
from consensus.message_door import MESSAGE_BYTES_MAX, parse_message
from consensus.messages import Commit, Prepare, PrePrepare, SignedMessage, is_signed_by
from ledger import cbor
from ledger.errors import DecodeError
from ledger.hashing import Domain, compute_hash
from ledger.limits import VALIDATORS_MAX
from ledger.types import Hash, Height, ValidatorIndex, View

EVIDENCE_PREFIX = b"hubledger/evidence\n"


@dataclass(frozen=True)
class Evidence:
    validator: ValidatorIndex
    first: SignedMessage
    second: SignedMessage

    @cached_property
    def encoded(self) -> bytes:
        return cbor.encode(
            {"validator": self.validator, "first": self.first.encode(), "second": self.second.encode()}
        )

    def encode(self) -> bytes:
        return self.encoded

    @cached_property
    def id(self) -> Hash:
        """Stable whichever of the two messages came first."""
        first, second = sorted((self.first.encode(), self.second.encode()))
        return compute_hash(Domain.TRANSACTION, EVIDENCE_PREFIX + first + second)

    @classmethod
    def decode(cls, data: bytes) -> Evidence:
        """Decode the structure (raises PeerFault); signatures are checked by validate_evidence."""
        try:
            value = cbor.decode(data, bytes_max=2 * MESSAGE_BYTES_MAX + 1024)
            fields = cbor.expect_map(value, ("validator", "first", "second"), "evidence")
            validator = ValidatorIndex(cbor.expect_int(fields["validator"], "validator", high=VALIDATORS_MAX))
            first = parse_message(cbor.expect_bytes(fields["first"], "first", size_max=MESSAGE_BYTES_MAX))
            second = parse_message(cbor.expect_bytes(fields["second"], "second", size_max=MESSAGE_BYTES_MAX))
        except PeerFault:
            raise
        except DecodeError as error:
            raise PeerFault("malformed", error.message) from None
        return cls(validator, first, second)

    def to_json(self) -> dict[str, Any]:
        slot = get_slot(self.first)
        return {
            "id": self.id.hex(),
            "validator": self.validator,
            "kind": self.first.kind,
            "view": slot[1] if slot else None,
            "height": slot[2] if slot else None,
            "first_digest": get_digest(self.first).hex(),
            "second_digest": get_digest(self.second).hex(),
        }


def get_slot(message: SignedMessage) -> tuple[str, View, Height] | None:
    """The (kind, view, height) in which a validator may sign only one digest."""
    body = message.body
    if isinstance(body, PrePrepare | Prepare | Commit):
        return (body.kind, body.view, body.height)
    return None


def get_digest(message: SignedMessage) -> Hash:
    body = message.body
    if isinstance(body, PrePrepare):
        return body.block.hash
    if isinstance(body, Prepare | Commit):
        return body.block_hash
    return message.id


def is_conflict(first: SignedMessage, second: SignedMessage) -> bool:
    slot = get_slot(first)
    return (
        slot is not None
        and first.sender == second.sender
        and first.chain_id == second.chain_id
        and slot == get_slot(second)
        and get_digest(first) != get_digest(second)
    )


def validate_evidence(evidence: Evidence, validator_keys: tuple[bytes, ...]) -> None:
    """Raise PeerFault unless the evidence proves that its validator equivocated."""
    if evidence.first.sender != evidence.validator or not is_conflict(evidence.first, evidence.second):
        raise PeerFault("malformed", "the two messages are not a conflict of one validator")
    for message in (evidence.first, evidence.second):
        if not is_signed_by(message, validator_keys):
            raise PeerFault("bad_signature", "an evidence message does not verify")
