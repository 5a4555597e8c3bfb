"""Commit certificates: 2f + 1 signed COMMIT votes that make a block final.

A COMMIT vote signs the chain id, the view, the height and the block hash. The
certificate stored with a block is the set of those votes from a quorum of
distinct validators, so anyone with the genesis validator list can check,
offline, that the block was committed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from ledger import cbor
from ledger.errors import CertificateInvalid, DecodeError
from ledger.keys import SIGNATURE_BYTES, verify_signature
from ledger.limits import VALIDATORS_MAX
from ledger.types import HASH_BYTES, Hash, Height, ValidatorIndex, View

COMMIT_PREFIX = b"hubledger/commit\n"


def compute_commit_payload(chain_id: str, view: View, height: Height, block_hash: Hash) -> bytes:
    """The bytes a validator signs when it votes COMMIT for a block."""
    body = {"chain_id": chain_id, "view": view, "height": height, "block_hash": block_hash}
    return COMMIT_PREFIX + cbor.encode(body)


def compute_quorum(validator_count: int) -> int:
    """2f + 1 for n = 3f + 1; for other n the smallest quorum any two of which
    share an honest validator, ceil((n + f + 1) / 2)."""
    return (validator_count + compute_faults_max(validator_count)) // 2 + 1


def compute_faults_max(validator_count: int) -> int:
    return (validator_count - 1) // 3


@dataclass(frozen=True, slots=True)
class Vote:
    validator: ValidatorIndex
    signature: bytes


@dataclass(frozen=True, slots=True)
class CommitCertificate:
    height: Height
    view: View
    block_hash: Hash
    votes: tuple[Vote, ...]

    def to_cbor_map(self) -> dict[str, Any]:
        return {
            "height": self.height,
            "view": self.view,
            "block_hash": self.block_hash,
            "votes": [[vote.validator, vote.signature] for vote in self.votes],
        }

    def encode(self) -> bytes:
        return cbor.encode(self.to_cbor_map())

    @classmethod
    def decode(cls, data: bytes) -> CommitCertificate:
        return cls.from_cbor_map(cbor.decode(data, bytes_max=64 * 1024))

    @classmethod
    def from_cbor_map(cls, value: Any) -> CommitCertificate:
        fields = cbor.expect_map(value, ("height", "view", "block_hash", "votes"), "certificate")
        votes = []
        for item in cbor.expect_list(fields["votes"], "votes", count_max=VALIDATORS_MAX):
            pair = cbor.expect_list(item, "vote", count_max=2)
            if len(pair) != 2:
                raise CertificateInvalid("a vote is [validator index, signature]")
            index = ValidatorIndex(cbor.expect_int(pair[0], "vote validator", high=VALIDATORS_MAX))
            votes.append(Vote(index, cbor.expect_bytes(pair[1], "vote signature", size=SIGNATURE_BYTES)))
        return cls(
            height=Height(cbor.expect_int(fields["height"], "height")),
            view=View(cbor.expect_int(fields["view"], "view")),
            block_hash=Hash(cbor.expect_bytes(fields["block_hash"], "block_hash", size=HASH_BYTES)),
            votes=tuple(votes),
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "height": self.height,
            "view": self.view,
            "block_hash": self.block_hash.hex(),
            "votes": [{"validator": v.validator, "signature": v.signature.hex()} for v in self.votes],
        }

    @classmethod
    def from_json(cls, value: Any) -> CommitCertificate:
        """The certificate ``to_json`` wrote (the client API, exports and proofs carry it so);
        byte strings come back from hex, then the strict CBOR-map decoder checks the rest."""
        fields = dict(cbor.expect_map(value, ("height", "view", "block_hash", "votes"), "certificate"))
        fields["block_hash"] = _from_hex(fields["block_hash"], "block_hash")
        votes = []
        for item in cbor.expect_list(fields["votes"], "votes", count_max=VALIDATORS_MAX):
            vote = cbor.expect_map(item, ("validator", "signature"), "vote")
            votes.append([vote["validator"], _from_hex(vote["signature"], "vote signature")])
        fields["votes"] = votes
        return cls.from_cbor_map(fields)


class CertifiedBlock(Protocol):
    """A block or its header: what a commit certificate names."""

    @property
    def hash(self) -> Hash: ...

    @property
    def height(self) -> Height: ...


def validate_certificate(
    certificate: CommitCertificate,
    *,
    chain_id: str,
    validator_keys: Sequence[bytes],
    block_hash: Hash,
    height: Height,
) -> None:
    """Raise CertificateInvalid unless a quorum of distinct validators signed COMMIT for this block."""
    if not validator_keys:
        # compute_quorum(0) is 0, so an empty certificate would otherwise "prove" any block.
        raise CertificateInvalid("no validator set to check the certificate against")
    if certificate.block_hash != block_hash or certificate.height != height:
        raise CertificateInvalid(f"certificate is for another block than the one at height {height}")
    payload = compute_commit_payload(chain_id, certificate.view, height, block_hash)
    signers: set[int] = set()
    for vote in certificate.votes:
        if not 0 <= vote.validator < len(validator_keys):
            raise CertificateInvalid(f"vote from unknown validator index {vote.validator}")
        if vote.validator in signers:
            raise CertificateInvalid(f"validator {vote.validator} voted twice in one certificate")
        if not verify_signature(validator_keys[vote.validator], payload, vote.signature):
            raise CertificateInvalid(f"the vote of validator {vote.validator} does not verify")
        signers.add(vote.validator)
    quorum = compute_quorum(len(validator_keys))
    if len(signers) < quorum:
        raise CertificateInvalid(f"certificate has {len(signers)} votes, a quorum is {quorum}")


def validate_block_certificate(
    certificate: CommitCertificate, block: CertifiedBlock, *, chain_id: str, validator_keys: Sequence[bytes]
) -> None:
    """Raise CertificateInvalid unless ``certificate`` proves ``block`` final on chain ``chain_id``:
    the one check the simulator's checker, proof checking and verify-chain all make."""
    validate_certificate(
        certificate,
        chain_id=chain_id,
        validator_keys=validator_keys,
        block_hash=block.hash,
        height=block.height,
    )


def _from_hex(value: Any, what: str) -> bytes:
    text = cbor.expect_text(value, what, size_max=4096)
    try:
        return bytes.fromhex(text)
    except ValueError:
        raise DecodeError(f"{what} must be a hex string") from None
