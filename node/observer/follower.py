"""Following the chain from every hub the observer can reach, trusting none of them.

Every ``poll_interval_ms`` each hub is asked, over its read-only link
(p2p/observer_links.py), for the certified blocks from the observer's latest
height on: the latest one again, so that a hub serving another block at a
height already verified is caught, then what follows. Hubs are asked
concurrently; an answer is judged and committed in one go on the event loop
(no await in between), so two answers never interleave.

Each block of an answer is judged before anything of it is kept, by the same
code a validator runs before it votes: its commit certificate against the
genesis validators, its transactions against its header, its link to the
verified chain, then LedgerApplication.validate_block re-executes it and
compares the result with what the header commits to, and commit_blocks
writes it to the observer's LevelDB. The first block that fails raises a
tamper alert naming the hub (node/observer/alerts.py) and ends that answer;
blocks of it verified before stay (each is proven on its own). Other hubs
are not affected: the observer follows the chain as long as one honest hub
answers.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import structlog

from consensus.application import InvalidBlock
from ledger.block import Block
from ledger.certificate import CommitCertificate, validate_block_certificate
from ledger.errors import CertificateInvalid, DecodeError
from ledger.genesis import Genesis
from ledger.limits import FETCHED_BLOCKS_MAX
from ledger.receipt import Receipt
from ledger.types import Height
from node.application import LedgerApplication
from node.clock import now_ms
from node.observer.alerts import TamperAlerts
from node.signature_pool import SignaturePool
from node.state_transfer import decode_fetch_response, encode_fetch_request
from p2p.errors import P2PError
from p2p.observer_links import HubLink
from storage.chain import ChainStore

REACHABLE_MS = 3000  # a hub that answered within this is reachable
CommitListener = Callable[[Block, CommitCertificate, Sequence[Receipt]], None]

log = structlog.get_logger("hubledger.observer")


class Rejected(Exception):
    """A block of a hub's answer that does not verify: the alert's reason and detail."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason
        self.detail = detail


@dataclass
class HubState:
    """What the observer knows of one hub, from its own answers."""

    name: str
    url: str
    height: int = 0  # the highest block it served that verified
    answered_ms: int = 0  # when it last answered (0: never)
    caught_up: bool = False  # its last answer held nothing past the observer's height
    problem: str = ""  # why it could not be asked last time, if it could not

    def to_json(self, *, at_ms: int, alerts: int) -> dict[str, Any]:
        reachable = self.answered_ms > 0 and at_ms - self.answered_ms <= REACHABLE_MS
        return {
            "name": self.name,
            "url": self.url,
            "reachable": reachable,
            "height": self.height,
            "age_ms": at_ms - self.answered_ms if self.answered_ms else None,
            "alerts": alerts,
            "problem": self.problem,
        }


class Follower:
    """Asks every hub for what follows, judges each answer, commits what verifies."""

    def __init__(
        self,
        *,
        genesis: Genesis,
        chain: ChainStore,
        application: LedgerApplication,
        links: Sequence[HubLink],
        alerts: TamperAlerts,
        on_commit: CommitListener,
        poll_interval_ms: int,
        request_timeout_ms: int,
    ) -> None:
        self._genesis = genesis
        self._chain = chain
        self._application = application
        self._links = list(links)
        self.alerts = alerts
        self._on_commit = on_commit
        self._poll_interval_s = poll_interval_ms / 1000
        self._timeout_s = request_timeout_ms / 1000
        self.hubs = {link.hub: HubState(link.hub, link.url) for link in links}
        self._pool = SignaturePool()

    async def follow_forever(self) -> None:
        while True:
            await asyncio.gather(*(self._poll(link) for link in self._links))
            await asyncio.sleep(self._poll_interval_s)

    async def close(self) -> None:
        await asyncio.gather(*(link.close() for link in self._links), return_exceptions=True)
        self._pool.close()

    def is_caught_up(self) -> str | None:
        """None when a hub answered lately and had nothing past our height; else why not."""
        now = now_ms()
        fresh = [
            hub for hub in self.hubs.values() if hub.answered_ms and now - hub.answered_ms <= REACHABLE_MS
        ]
        if not fresh:
            return f"no hub answered in the last {REACHABLE_MS} ms"
        if not any(hub.caught_up for hub in fresh):
            return "still fetching the blocks the hubs hold"
        return None

    async def _poll(self, link: HubLink) -> None:
        state = self.hubs[link.hub]
        first = max(1, self._chain.latest_height())  # our latest again: a conflicting one is caught
        request = encode_fetch_request(Height(first), Height(first + FETCHED_BLOCKS_MAX - 1))
        try:
            response = await link.request(request, timeout_s=self._timeout_s)
        except P2PError as error:
            if state.problem != error.message:  # once per change, not at every poll
                log.warning("hub_unavailable", hub=link.hub, reason=error.message)
            state.problem = error.message
            return
        state.problem = ""
        state.answered_ms = now_ms()
        blocks = self._decode(link.hub, response)
        if blocks is None:
            return
        # As a validator's replay does: signatures checked in worker processes, off the event loop
        # (node/signature_pool.py); validate_block then finds them verified. Only a speed-up:
        # a transaction whose signature fails is checked again there, and refused.
        latest = self._chain.latest_height()
        unverified = [
            tx
            for block, _ in blocks
            if block.height > latest
            for tx in block.transactions
            if not self._application.is_verified(tx)
        ]
        for transaction in await self._pool.find_valid(unverified):
            self._application.mark_verified(transaction)
        self.accept_blocks(link.hub, blocks)

    def accept(self, hub: str, response: bytes) -> None:
        """Judge one answer of ``hub`` and commit every block of it that verifies, in order."""
        blocks = self._decode(hub, response)
        if blocks is not None:
            self.accept_blocks(hub, blocks)

    def _decode(self, hub: str, response: bytes) -> Sequence[tuple[Block, CommitCertificate]] | None:
        try:
            return decode_fetch_response(response)
        except DecodeError as error:
            self.alerts.raise_alert(hub, "malformed_answer", 0, error.message)
            self.hubs[hub].caught_up = False
            return None

    def accept_blocks(self, hub: str, blocks: Sequence[tuple[Block, CommitCertificate]]) -> None:
        state = self.hubs[hub]
        new = 0
        for block, certificate in blocks:
            try:
                if self._judge(block, certificate):
                    new += 1
            except Rejected as rejected:
                self.alerts.raise_alert(hub, rejected.reason, block.height, rejected.detail)
                state.caught_up = False
                return
            state.height = max(state.height, block.height)
        state.caught_up = new == 0

    def _judge(self, block: Block, certificate: CommitCertificate) -> bool:
        """Commit ``block`` if it is the next one and verifies; False if we hold it already."""
        latest = self._chain.latest_height()
        if block.height <= latest:
            header = self._chain.get_header(block.height)
            if header is None or header.hash != block.hash:
                raise Rejected(
                    "conflicting_block",
                    f"block {block.height} ({block.hash.hex()[:16]}) differs from the one verified "
                    f"at that height ({header.hash.hex()[:16] if header else 'none'})",
                )
            return False
        if block.height != latest + 1:
            raise Rejected("out_of_order", f"served block {block.height} while {latest + 1} comes next")
        try:
            validate_block_certificate(
                certificate,
                block,
                chain_id=self._genesis.chain_id,
                validator_keys=self._genesis.validator_keys,
            )
        except CertificateInvalid as error:
            raise Rejected("bad_certificate", error.message) from None
        try:
            block.validate_body()
        except DecodeError as error:
            raise Rejected("transactions_mismatch", error.message) from None
        if block.header.previous_hash != self._chain.get_latest_hash():
            raise Rejected(
                "conflicting_block", f"certified block {block.height} does not extend the verified chain"
            )
        try:
            self._application.validate_block(block)
        except InvalidBlock as error:
            raise Rejected("execution_mismatch", str(error)) from None
        receipts = self._application.commit_blocks([(block, certificate)])[0]
        self._on_commit(block, certificate, receipts)
        return True
