"""One height of the current view: its proposal and the votes gathered for it."""

from __future__ import annotations

from dataclasses import dataclass, field

from consensus.messages import Commit, Prepare, PreparedCertificate, PrePrepare, SignedMessage
from ledger.block import Block
from ledger.certificate import CommitCertificate, Vote
from ledger.types import Hash, Height, ValidatorIndex, View


@dataclass
class Slot:
    view: View
    height: Height
    primary: ValidatorIndex
    pre_prepare: SignedMessage | None = None
    prepares: dict[ValidatorIndex, SignedMessage] = field(default_factory=dict)  # first per sender
    commits: dict[ValidatorIndex, SignedMessage] = field(default_factory=dict)
    prepared: bool = False
    commit_sent: bool = False
    committed: bool = False

    @property
    def block(self) -> Block | None:
        if self.pre_prepare is None:
            return None
        body = self.pre_prepare.body
        return body.block if isinstance(body, PrePrepare) else None

    @property
    def block_hash(self) -> Hash | None:
        block = self.block
        return block.hash if block is not None else None

    def get_prepares_for(self, block_hash: Hash) -> list[SignedMessage]:
        return [
            message
            for sender, message in sorted(self.prepares.items())
            if sender != self.primary
            and isinstance(message.body, Prepare)
            and message.body.block_hash == block_hash
        ]

    def get_commits_for(self, block_hash: Hash) -> list[SignedMessage]:
        return [
            message
            for _, message in sorted(self.commits.items())
            if isinstance(message.body, Commit) and message.body.block_hash == block_hash
        ]

    def is_prepared(self, quorum: int) -> bool:
        """The pre-prepare counts as the primary's prepare."""
        block_hash = self.block_hash
        return block_hash is not None and 1 + len(self.get_prepares_for(block_hash)) >= quorum

    def get_prepared_certificate(self, quorum: int) -> PreparedCertificate:
        block_hash = self.block_hash
        if self.pre_prepare is None or block_hash is None:
            raise RuntimeError("a slot without a proposal has no prepared certificate")
        prepares = tuple(self.get_prepares_for(block_hash)[: quorum - 1])
        return PreparedCertificate(self.pre_prepare, prepares)

    def get_commit_certificate(self, quorum: int) -> CommitCertificate | None:
        block_hash = self.block_hash
        if block_hash is None:
            return None
        commits = self.get_commits_for(block_hash)
        if len(commits) < quorum:
            return None
        votes = tuple(Vote(message.sender, message.signature) for message in commits)
        return CommitCertificate(self.height, self.view, block_hash, votes)
