"""Following the chain from every hub the observer can reach, trusting none of them.

Each hub has its own loop (so a hub that is slow or silent holds back no
other): every ``poll_interval_ms`` it is asked, over its read-only link
(p2p/observer_links.py), for its status (the height it says it holds) and
for the certified blocks from the observer's latest height on: the latest
one again, so that a hub serving another block at a height already verified
is caught, then what follows. An answer is committed in one go on the event
loop (no await in between), so two hubs' answers never interleave.

Each answer is judged by node/observer/judge.py, by the same code a
validator runs before it votes, the cheap checks first: heights, commit
certificates against the genesis validators and transactions against their
header, then (for the blocks that passed) the transactions' signatures in
worker processes, then re-execution against what the header commits to, and
commit_blocks writes the block to the observer's LevelDB. The first block
that fails raises a tamper alert naming the hub (node/observer/alerts.py)
and ends that answer; blocks of it verified before stay. Other hubs are not
affected: the observer follows the chain as long as one honest hub answers.

Caught up (``/readyz``) means our height is at least what the hubs that
answered lately report: the height f + 1 of them claim (so at least one
honest hub holds it), or, with at most f answering, the highest claim. A
hub's claim is its status height and the last block it served that
verified. An empty answer is no claim: a hub that serves nothing from our
height (pruned, lagging or withholding) is logged as such, once a minute.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import structlog

from ledger import cbor
from ledger.block import Block
from ledger.certificate import CommitCertificate, compute_faults_max
from ledger.errors import DecodeError
from ledger.genesis import Genesis
from ledger.limits import FETCHED_BLOCKS_MAX
from ledger.receipt import Receipt
from ledger.types import Height
from node.application import LedgerApplication
from node.clock import now_ms
from node.observer.alerts import TamperAlerts
from node.observer.judge import BlockJudge, CertifiedBlocks, CheckedAnswer, Rejected, check_answer
from node.peer_links import STATUS_REQUEST_KIND
from node.peer_status import decode_status
from node.signature_pool import SignaturePool
from node.state_transfer import decode_fetch_response, encode_fetch_request
from p2p.errors import P2PError, RequestFailed
from p2p.observer_links import HubLink
from storage.chain import ChainStore

REACHABLE_MS = 3000  # a hub that answered within this is reachable
LOG_INTERVAL_MS = 60_000  # "cannot serve" is logged at most this often per hub
CommitListener = Callable[[Block, CommitCertificate, Sequence[Receipt]], None]

log = structlog.get_logger("hubledger.observer")


@dataclass
class HubState:
    """What the observer knows of one hub, from its own answers."""

    name: str
    url: str
    height: int = 0  # the highest block it served that verified
    answered_ms: int = 0  # when it last answered (0: never)
    status_height: int | None = None  # the height its last status gave (None: it gave none)
    claimed: int | None = None  # the height it vouches for: its status, or the last block it served
    problem: str = ""  # why it could not be asked, or served nothing, last time
    logged_ms: int = -LOG_INTERVAL_MS  # when "cannot serve" was last logged for it

    def to_json(self, *, at_ms: int, alerts: int) -> dict[str, Any]:
        reachable = self.answered_ms > 0 and at_ms - self.answered_ms <= REACHABLE_MS
        return {
            "name": self.name,
            "url": self.url,
            "reachable": reachable,
            "height": self.height,
            "reported_height": self.claimed,
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
        self._judge = BlockJudge(chain, application)
        self._links = list(links)
        self.alerts = alerts
        self._on_commit = on_commit
        self._poll_interval_s = poll_interval_ms / 1000
        self._timeout_s = request_timeout_ms / 1000
        self._names = [validator.name for validator in genesis.validators]
        self._faults_max = compute_faults_max(len(self._names))
        self.hubs = {link.hub: HubState(link.hub, link.url) for link in links}
        self._pool = SignaturePool()

    async def follow_forever(self) -> None:
        async with asyncio.TaskGroup() as group:
            for link in self._links:
                group.create_task(self._follow(link), name=f"observer-follow-{link.hub}")

    async def _follow(self, link: HubLink) -> None:
        """One hub's loop: its own pace, its own timeouts, whatever the other hubs do."""
        while True:
            await self._poll(link)
            await asyncio.sleep(self._poll_interval_s)

    async def close(self) -> None:
        await asyncio.gather(*(link.close() for link in self._links), return_exceptions=True)
        self._pool.close()

    def is_caught_up(self) -> str | None:
        """None when our height is at least what the hubs that answered lately vouch for; else why not."""
        now = now_ms()
        latest = self._chain.latest_height()
        fresh = [
            hub for hub in self.hubs.values() if hub.answered_ms and now - hub.answered_ms <= REACHABLE_MS
        ]
        if not fresh:
            return f"no hub answered in the last {REACHABLE_MS} ms"
        claims = sorted((hub.claimed for hub in fresh if hub.claimed is not None), reverse=True)
        if not claims:
            return f"no hub that answered lately serves blocks from height {max(1, latest)}"
        # f + 1 claims hold at least one honest hub's: f hubs claiming too much cannot hold us back.
        vouched = claims[self._faults_max] if len(claims) > self._faults_max else claims[0]
        if latest < vouched:
            return f"at height {latest} while the hubs report height {vouched}"
        return None

    async def _poll(self, link: HubLink) -> None:
        state = self.hubs[link.hub]
        try:
            state.status_height = await self._ask_status(link)
            first = max(1, self._chain.latest_height())  # our latest again: a conflicting one is caught
            request = encode_fetch_request(Height(first), Height(first + FETCHED_BLOCKS_MAX - 1))
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
        checked = check_answer(self._genesis, self._chain, blocks)
        await self._verify_signatures(checked.blocks)
        self._commit(link.hub, checked, first=first, served=len(blocks))

    async def _ask_status(self, link: HubLink) -> int | None:
        """The height the hub says it holds; None if it would not say (a hub of an older release).

        Raises P2PError when the hub cannot be reached: its blocks cannot be asked either."""
        try:
            answer = await link.request(cbor.encode({"kind": STATUS_REQUEST_KIND}), timeout_s=self._timeout_s)
        except RequestFailed as error:
            log.debug("hub_status_refused", hub=link.hub, code=error.code)
            return None
        try:
            status = decode_status(answer, self._names, now_ms())
        except DecodeError as error:
            self.alerts.raise_alert(link.hub, "malformed_answer", 0, f"status: {error.message}")
            return None
        if status.node != link.hub:
            self.alerts.raise_alert(link.hub, "malformed_answer", 0, f"its status names {status.node}")
            return None
        return status.height

    async def _verify_signatures(self, blocks: CertifiedBlocks) -> None:
        """As a validator's replay does: signatures checked in worker processes, off the event loop
        (node/signature_pool.py), only for blocks that passed the cheap checks; validate_block then
        finds them verified. Only a speed-up: a transaction whose signature fails is checked again
        there, and refused."""
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

    def accept(self, hub: str, response: bytes) -> None:
        """Judge one answer of ``hub`` and commit every block of it that verifies, in order."""
        blocks = self._decode(hub, response)
        if blocks is not None:
            self.accept_blocks(hub, blocks)

    def accept_blocks(self, hub: str, blocks: CertifiedBlocks) -> None:
        first = max(1, self._chain.latest_height())
        self._commit(hub, check_answer(self._genesis, self._chain, blocks), first=first, served=len(blocks))

    def _decode(self, hub: str, response: bytes) -> CertifiedBlocks | None:
        try:
            return decode_fetch_response(response)
        except DecodeError as error:
            self.alerts.raise_alert(hub, "malformed_answer", 0, error.message)
            self.hubs[hub].claimed = None
            return None

    def _commit(self, hub: str, checked: CheckedAnswer, *, first: int, served: int) -> None:
        """Commit the checked blocks in order (no await: answers never interleave), then judge the hub."""
        state = self.hubs[hub]
        rejected = checked.rejected
        verified: int | None = None
        for block, certificate in checked.blocks:
            try:
                receipts = self._judge.commit(block, certificate)
            except Rejected as error:
                rejected = error
                break
            if receipts is not None:
                self._on_commit(block, certificate, receipts)
            verified = block.height
            state.height = max(state.height, block.height)
        if rejected is not None:
            self.alerts.raise_alert(hub, rejected.reason, rejected.height, rejected.detail)
        claims = [height for height in (state.status_height, verified) if height is not None]
        state.claimed = max(claims) if claims else None
        if served == 0:
            self._note_empty_answer(state, first)

    def _note_empty_answer(self, state: HubState, first: int) -> None:
        """A hub at or above our height serves at least our latest block: nothing means it cannot."""
        if state.status_height is not None and state.status_height < first:
            state.problem = f"holds no block from height {first}: it reports height {state.status_height}"
            return
        state.problem = f"serves no block from height {first}"
        now = now_ms()
        if now - state.logged_ms < LOG_INTERVAL_MS:
            return
        state.logged_ms = now
        log.warning(
            "hub_cannot_serve",
            hub=state.name,
            from_height=first,
            reported_height=state.status_height,
            detail="it answered no block from our height: it pruned them, lags or withholds them; "
            "the observer follows the other hubs",
        )
