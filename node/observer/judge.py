"""Judging the blocks of one hub's answer: the cheap checks first, execution last.

An answer is judged in two passes, so that a hostile hub cannot make the
observer spend its CPU on what it never had to look at:

1. ``check_answer``, before any transaction signature is looked at: each
   block above our height must come next (its height, and its link to the
   block before it), carry a commit certificate of the genesis validators
   (a quorum's signatures, a handful per block), and hold the transactions
   its header commits to. Nothing here depends on anything but the answer,
   the genesis and our latest block, so it may run before an await.
2. ``BlockJudge.commit``, after the transactions of the blocks that passed
   have had their signatures checked (in worker processes, by the
   follower): with the chain as it is now (another hub's answer may have
   been committed meanwhile), a block we hold already must be the one we
   hold, the next one must extend our latest block and re-execute to what
   its header says, and is then committed.

The first block that fails either pass ends the answer with a ``Rejected``
(the alert's reason and detail); the blocks before it stay, each proven on
its own.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from consensus.application import InvalidBlock
from ledger.block import Block
from ledger.certificate import CommitCertificate, validate_block_certificate
from ledger.errors import CertificateInvalid, DecodeError
from ledger.genesis import Genesis
from ledger.receipt import Receipt
from ledger.types import Hash
from node.application import LedgerApplication
from storage.chain import ChainStore

CertifiedBlocks = Sequence[tuple[Block, CommitCertificate]]


class Rejected(Exception):
    """A block of a hub's answer that does not verify: the alert's reason and detail."""

    def __init__(self, reason: str, detail: str, height: int) -> None:
        super().__init__(detail)
        self.reason = reason
        self.detail = detail
        self.height = height


@dataclass(frozen=True)
class CheckedAnswer:
    """The blocks of an answer that passed the cheap checks, and why the next one did not."""

    blocks: CertifiedBlocks
    rejected: Rejected | None


def check_answer(genesis: Genesis, chain: ChainStore, blocks: CertifiedBlocks) -> CheckedAnswer:
    """The longest prefix of ``blocks`` whose blocks above our height are next, certified and whole."""
    latest = chain.latest_height()
    expected_height, expected_parent = latest + 1, chain.get_latest_hash()
    for index, (block, certificate) in enumerate(blocks):
        if block.height <= latest:
            continue  # held already: only compared with ours, when committing
        try:
            _check_certified(genesis, block, certificate, expected_height, expected_parent)
        except Rejected as rejected:
            return CheckedAnswer(blocks[:index], rejected)
        expected_height, expected_parent = block.height + 1, block.hash
    return CheckedAnswer(blocks, None)


def _check_certified(
    genesis: Genesis, block: Block, certificate: CommitCertificate, height: int, parent: Hash
) -> None:
    if block.height != height:
        raise Rejected("out_of_order", f"served block {block.height} while {height} comes next", block.height)
    try:
        validate_block_certificate(
            certificate, block, chain_id=genesis.chain_id, validator_keys=genesis.validator_keys
        )
    except CertificateInvalid as error:
        raise Rejected("bad_certificate", error.message, block.height) from None
    try:
        block.validate_body()
    except DecodeError as error:
        raise Rejected("transactions_mismatch", error.message, block.height) from None
    if block.header.previous_hash != parent:
        raise Rejected(
            "conflicting_block",
            f"certified block {block.height} does not extend the verified chain",
            block.height,
        )


class BlockJudge:
    """The second pass: commits each checked block that is next and re-executes as its header says."""

    def __init__(self, chain: ChainStore, application: LedgerApplication) -> None:
        self._chain = chain
        self._application = application

    def commit(self, block: Block, certificate: CommitCertificate) -> Sequence[Receipt] | None:
        """The receipts of ``block`` once committed; None if we hold it already. Raises Rejected."""
        latest = self._chain.latest_height()
        if block.height <= latest:
            header = self._chain.get_header(block.height)
            if header is None or header.hash != block.hash:
                raise Rejected(
                    "conflicting_block",
                    f"block {block.height} ({block.hash.hex()[:16]}) differs from the one verified "
                    f"at that height ({header.hash.hex()[:16] if header else 'none'})",
                    block.height,
                )
            return None
        # check_answer certified every block above the height we had then, which is at most ours now.
        if block.height != latest + 1:
            raise Rejected(
                "out_of_order", f"served block {block.height} while {latest + 1} comes next", block.height
            )
        if block.header.previous_hash != self._chain.get_latest_hash():
            raise Rejected(
                "conflicting_block",
                f"certified block {block.height} does not extend the verified chain",
                block.height,
            )
        try:
            self._application.validate_block(block)
        except InvalidBlock as error:
            raise Rejected("execution_mismatch", str(error), block.height) from None
        return self._application.commit_blocks([(block, certificate)])[0]
