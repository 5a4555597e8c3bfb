"""The invariant checker: what must hold in every run, checked as the run goes.

- agreement: no two honest replicas commit different blocks at one height, and
  no two commit certificates for different blocks at one height can be formed
  from the COMMITs validators sent ("certificates": verify-chain would accept
  either, even where no honest replica delivered one);
- integrity: every delivered block extends the replica's chain and its commit
  certificate verifies against the genesis validator keys;
- validity: every committed transaction was submitted by the workload, is
  signed, and no (sender, nonce) commits twice on one chain (no double spend);
- conservation: on every honest host, total supply equals balances plus
  escrow, and never changes (the workload only transfers);
- evidence: evidence names a validator that really signed both messages and is
  faulty, and a validator that sent conflicting messages is caught once an
  honest replica admitted both (in its current view and window: one dropped
  unread there is not held, so it owes no evidence);
- liveness (judged by the simulator): once healed with at most f faulty
  validators, the last transactions commit within a bounded virtual time; in
  planned runs (swarm, explorer) every transaction an honest replica accepted
  commits too ("request_liveness"), and the honest replicas end in one view
  ("view_convergence");
- replica invariants: each honest replica's own ``check_invariants`` holds after
  every step it takes ("replica_invariant").

A violation is data, not an exception: the run goes on and the report lists
each kind once with the first occurrence.
"""

from __future__ import annotations

from dataclasses import dataclass

from consensus.errors import PeerFault
from consensus.evidence import Evidence, validate_evidence
from consensus.messages import Commit, SignedMessage
from consensus.simulation.world import Conservation
from ledger.block import Block
from ledger.certificate import (
    CommitCertificate,
    compute_quorum,
    validate_block_certificate,
)
from ledger.errors import LedgerError
from ledger.types import Hash, Height, ValidatorIndex

AGREEMENT = "agreement"
INTEGRITY = "integrity"
VALIDITY = "validity"
DOUBLE_SPEND = "double_spend"
CONSERVATION = "conservation"
EVIDENCE = "evidence"
LIVENESS = "liveness"
EXCEPTION = "exception"
REPLICA_INVARIANT = "replica_invariant"
CERTIFICATES = "certificates"
REQUEST_LIVENESS = "request_liveness"
VIEW_CONVERGENCE = "view_convergence"
SAFETY = (AGREEMENT, INTEGRITY, VALIDITY, DOUBLE_SPEND, CONSERVATION, EXCEPTION, REPLICA_INVARIANT)


@dataclass(frozen=True)
class Violation:
    invariant: str
    at_ms: int
    detail: str

    def __str__(self) -> str:
        return f"{self.invariant} at {self.at_ms} ms: {self.detail}"


class InvariantChecker:
    def __init__(self, *, chain_id: str, validator_keys: tuple[bytes, ...], genesis_hash: Hash) -> None:
        self._chain_id = chain_id
        self._validator_keys = validator_keys
        self._genesis_hash = genesis_hash
        self.violations: list[Violation] = []
        self.submitted: set[Hash] = set()
        self.committed: dict[Height, Hash] = {}  # by honest replicas
        self._tips: dict[int, tuple[Height, Hash]] = {}
        self._spent: dict[int, dict[tuple[bytes, int], Hash]] = {}
        self._supply: int | None = None
        self.evidence_against: set[ValidatorIndex] = set()
        self.now_ms = 0
        self._commits: dict[tuple[int, int, bytes], set[int]] = {}  # (height, view, digest) -> senders
        self._certified: dict[int, set[bytes]] = {}  # height -> digests a quorum of COMMITs signed

    @property
    def is_ok(self) -> bool:
        return not self.violations

    def report(self, invariant: str, detail: str) -> None:
        if all(violation.invariant != invariant for violation in self.violations):
            self.violations.append(Violation(invariant, self.now_ms, detail))

    @property
    def is_safety_broken(self) -> bool:
        """Once safety is broken the run stops: what follows a fork says nothing more. Two
        certificates alone do not stop it, so that the fork they allow is seen delivered too."""
        return any(violation.invariant in SAFETY for violation in self.violations)

    def has_broken(self, invariant: str) -> bool:
        return any(violation.invariant == invariant for violation in self.violations)

    def on_commit_sent(self, message: SignedMessage) -> None:
        """A validly signed COMMIT left a validator (honest or not): count it toward a certificate."""
        body = message.body
        if not isinstance(body, Commit):
            return
        senders = self._commits.setdefault((body.height, body.view, body.block_hash), set())
        senders.add(message.sender)
        if len(senders) != compute_quorum(len(self._validator_keys)):
            return
        certified = self._certified.setdefault(body.height, set())
        certified.add(body.block_hash)
        if len(certified) > 1:
            digests = ", ".join(sorted(digest.hex()[:16] for digest in certified))
            self.report(
                CERTIFICATES,
                f"height {body.height}: commit certificates for {digests} (the last in view {body.view})",
            )

    def on_submitted(self, transaction_id: Hash) -> None:
        self.submitted.add(transaction_id)

    def on_open(self, instance: int, height: Height, tip: Hash) -> None:
        """An instance (re)started holding the chain up to ``height``, ending in ``tip``."""
        self._tips[instance] = (height, tip)
        if height == 0:
            self._spent.pop(instance, None)

    def on_deliver(
        self, instance: int, *, honest: bool, block: Block, certificate: CommitCertificate
    ) -> None:
        height, tip = self._tips[instance]
        if block.height != height + 1 or block.header.previous_hash != tip:
            self.report(
                INTEGRITY,
                f"instance {instance} delivered height {block.height} after {height} without linking to it",
            )
        self._tips[instance] = (block.height, block.hash)
        try:
            validate_block_certificate(
                certificate, block, chain_id=self._chain_id, validator_keys=self._validator_keys
            )
        except LedgerError as error:
            self.report(INTEGRITY, f"certificate of height {block.height} on instance {instance}: {error}")
        if not honest:
            return
        known = self.committed.setdefault(block.height, block.hash)
        if known != block.hash:
            self.report(
                AGREEMENT,
                f"height {block.height}: {known.hex()[:16]} and {block.hash.hex()[:16]} "
                f"(instance {instance}) both committed",
            )
        self._check_transactions(instance, block)

    def _check_transactions(self, instance: int, block: Block) -> None:
        spent = self._spent.setdefault(instance, {})
        for transaction in block.transactions:
            if transaction.id not in self.submitted:
                self.report(
                    VALIDITY, f"height {block.height} holds {transaction.id.hex()[:16]}, never submitted"
                )
            elif not transaction.has_valid_signature():
                self.report(VALIDITY, f"height {block.height} holds an unsigned {transaction.id.hex()[:16]}")
            slot = (transaction.sender, transaction.nonce)
            if slot in spent:
                self.report(
                    DOUBLE_SPEND,
                    f"nonce {transaction.nonce} of one sender committed twice on instance {instance}",
                )
            spent[slot] = transaction.id

    def on_conservation(self, instance: int, conservation: Conservation) -> None:
        if not conservation.is_conserved:
            self.report(
                CONSERVATION,
                f"instance {instance}: supply {conservation.total_supply} but "
                f"{conservation.balances} held and {conservation.locked_in_escrow} in escrow",
            )
        if self._supply is None:
            self._supply = conservation.total_supply
        elif conservation.total_supply != self._supply:
            self.report(
                CONSERVATION,
                f"instance {instance}: supply moved from {self._supply} to {conservation.total_supply}",
            )

    def on_evidence(self, instance: int, evidence: Evidence, faulty: frozenset[ValidatorIndex]) -> None:
        try:
            validate_evidence(evidence, self._validator_keys)
        except PeerFault as fault:
            self.report(EVIDENCE, f"instance {instance} recorded evidence that does not verify: {fault}")
            return
        if evidence.validator not in faulty:
            self.report(EVIDENCE, f"instance {instance} blamed honest validator {evidence.validator}")
        self.evidence_against.add(evidence.validator)

    def expect_evidence(self, validator: ValidatorIndex, conflicts_seen: int) -> None:
        """A validator that showed honest replicas conflicting messages must be caught."""
        if conflicts_seen and validator not in self.evidence_against:
            self.report(
                EVIDENCE,
                f"validator {validator} showed {conflicts_seen} conflicting messages "
                "to honest replicas and no evidence was recorded",
            )
