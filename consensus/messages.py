"""PBFT messages between validators: their bodies, the signed envelope, and signing.

Every message travels as a ``SignedMessage`` envelope: the chain id, a kind, the
sender's validator index, a body and the sender's signature, in canonical CBOR.
A COMMIT's signature is over ``ledger.certificate.compute_commit_payload`` so
that a quorum of COMMITs is a block's commit certificate, verbatim. Every other
message is signed over a domain-tagged encoding of (chain id, kind, sender,
body). Messages come in from peers through one door, ``consensus.message_door``,
which decodes and verifies them with every message nested in them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from ledger import cbor
from ledger.block import Block
from ledger.certificate import CommitCertificate, compute_commit_payload
from ledger.hashing import Domain, compute_hash
from ledger.keys import PrivateKey, verify_signature
from ledger.transaction import Transaction
from ledger.types import Hash, Height, ValidatorIndex, View

SIGNING_PREFIX = b"hubledger/consensus\n"


@dataclass(frozen=True)
class PrePrepare:
    view: View
    height: Height
    block: Block

    kind = "pre_prepare"

    def to_cbor_map(self) -> dict[str, Any]:
        return {"view": self.view, "height": self.height, "block": self.block.encode()}


@dataclass(frozen=True)
class Prepare:
    view: View
    height: Height
    block_hash: Hash

    kind = "prepare"

    def to_cbor_map(self) -> dict[str, Any]:
        return {"view": self.view, "height": self.height, "block_hash": self.block_hash}


@dataclass(frozen=True)
class Commit:
    view: View
    height: Height
    block_hash: Hash

    kind = "commit"

    def to_cbor_map(self) -> dict[str, Any]:
        return {"view": self.view, "height": self.height, "block_hash": self.block_hash}


@dataclass(frozen=True)
class Checkpoint:
    height: Height
    block_hash: Hash

    kind = "checkpoint"

    def to_cbor_map(self) -> dict[str, Any]:
        return {"height": self.height, "block_hash": self.block_hash}


@dataclass(frozen=True)
class PreparedCertificate:
    """A PRE-PREPARE and a quorum less one of matching PREPAREs from other validators."""

    pre_prepare: SignedMessage
    prepares: tuple[SignedMessage, ...]

    @property
    def proposal(self) -> PrePrepare:
        body = self.pre_prepare.body
        if not isinstance(body, PrePrepare):
            raise TypeError("a prepared certificate holds a PRE-PREPARE")  # decode guarantees it
        return body

    def to_cbor_list(self) -> list[Any]:
        return [self.pre_prepare.encode(), [prepare.encode() for prepare in self.prepares]]


@dataclass(frozen=True)
class ViewChange:
    view: View  # the view the sender moves to
    checkpoint_height: Height
    checkpoint_hash: Hash
    # A quorum of CHECKPOINTs, or the quorum of COMMITs of the block's commit certificate
    # (``commits_of``); empty at the chain's start.
    checkpoint_proof: tuple[SignedMessage, ...]
    prepared: tuple[PreparedCertificate, ...]  # above the checkpoint, highest view per height

    kind = "view_change"

    def to_cbor_map(self) -> dict[str, Any]:
        return {
            "view": self.view,
            "checkpoint_height": self.checkpoint_height,
            "checkpoint_hash": self.checkpoint_hash,
            "checkpoint_proof": [message.encode() for message in self.checkpoint_proof],
            "prepared": [certificate.to_cbor_list() for certificate in self.prepared],
        }


@dataclass(frozen=True)
class NewView:
    view: View
    view_changes: tuple[SignedMessage, ...]
    pre_prepares: tuple[SignedMessage, ...]  # re-proposals of the prepared blocks, in height order

    kind = "new_view"

    def to_cbor_map(self) -> dict[str, Any]:
        return {
            "view": self.view,
            "view_changes": [message.encode() for message in self.view_changes],
            "pre_prepares": [message.encode() for message in self.pre_prepares],
        }


@dataclass(frozen=True)
class RequestBatch:
    """Client transactions a backup forwards to the primary."""

    transactions: tuple[Transaction, ...]

    kind = "request_batch"

    def to_cbor_map(self) -> dict[str, Any]:
        return {"transactions": [transaction.encoded for transaction in self.transactions]}


Body = PrePrepare | Prepare | Commit | Checkpoint | ViewChange | NewView | RequestBatch


@dataclass(frozen=True)
class SignedMessage:
    chain_id: str
    sender: ValidatorIndex
    body: Body
    signature: bytes

    @property
    def kind(self) -> str:
        return self.body.kind

    @cached_property
    def encoded(self) -> bytes:
        return cbor.encode(
            {
                "chain_id": self.chain_id,
                "kind": self.body.kind,
                "sender": self.sender,
                "body": self.body.to_cbor_map(),
                "signature": self.signature,
            }
        )

    def encode(self) -> bytes:
        return self.encoded

    @cached_property
    def id(self) -> Hash:
        return compute_hash(Domain.TRANSACTION, SIGNING_PREFIX + self.encoded)


def commits_of(certificate: CommitCertificate, chain_id: str) -> tuple[SignedMessage, ...]:
    """The signed COMMITs a commit certificate was made of: it holds their signatures verbatim."""
    body = Commit(certificate.view, certificate.height, certificate.block_hash)
    return tuple(SignedMessage(chain_id, vote.validator, body, vote.signature) for vote in certificate.votes)


def compute_signing_payload(body: Body, *, chain_id: str, sender: ValidatorIndex) -> bytes:
    if isinstance(body, Commit):
        return compute_commit_payload(chain_id, body.view, body.height, body.block_hash)
    envelope = {"chain_id": chain_id, "kind": body.kind, "sender": sender, "body": body.to_cbor_map()}
    return SIGNING_PREFIX + cbor.encode(envelope)


def sign_message(body: Body, *, chain_id: str, sender: ValidatorIndex, key: PrivateKey) -> SignedMessage:
    signature = key.sign(compute_signing_payload(body, chain_id=chain_id, sender=sender))
    return SignedMessage(chain_id, sender, body, signature)


def is_signed_by(message: SignedMessage, validator_keys: Sequence[bytes]) -> bool:
    if not 0 <= message.sender < len(validator_keys):
        return False
    payload = compute_signing_payload(message.body, chain_id=message.chain_id, sender=message.sender)
    return verify_signature(validator_keys[message.sender], payload, message.signature)
