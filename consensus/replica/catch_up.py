"""Catch-up: noticing that peers are ahead, probing them, and fetching certified blocks."""

from __future__ import annotations

from collections.abc import Sequence

from consensus.actions import (
    CancelTimer,
    Fetch,
    Timer,
    TimerKind,
)
from consensus.application import InvalidBlock
from consensus.replica.core import (
    PROBE_SPAN,
    ReplicaCore,
    _FetchState,
)
from ledger.block import Block
from ledger.certificate import (
    CommitCertificate,
    validate_certificate,
)
from ledger.errors import LedgerError
from ledger.types import Height, ValidatorIndex


class CatchUpMixin(ReplicaCore):
    def _note_height(self, sender: ValidatorIndex, height: Height) -> None:
        """Track how far each peer's COMMITs and CHECKPOINTs reach: when f + 1 of them are
        beyond the window (or beyond this replica at all while it waits for a NEW-VIEW and
        takes part in nothing), at least one honest replica is there; fetch from it."""
        if height > self._heights_seen.get(sender, Height(0)):
            self._heights_seen[sender] = height
            self._check_lagging()

    def _check_lagging(self) -> None:
        heights = sorted(self._heights_seen.values(), reverse=True)
        if len(heights) <= self._faults_max:
            return
        target = heights[self._faults_max]
        if target > self._committed_height + (0 if self._changing else self._config.window_max):
            peers = [peer for peer, seen in sorted(self._heights_seen.items()) if seen >= target]
            self._start_fetch(target, peers)

    def _probe_peers(self, *, first: Sequence[ValidatorIndex] = ()) -> None:
        """A replica that misses blocks its peers committed looks, from inside, like one whose
        primary stalls: the peers' votes for those heights are spent (they drop its votes and
        skip re-proposals there as stale), and no checkpoint may come to show it the gap. So
        a replica that leaves a view (whatever made it suspect the primary), or waits alone
        for a view change, asks its peers for what follows its chain. A peer that has nothing
        more answers empty, blamed for nothing; this costs one request per peer, and only when
        the replica is stuck anyway. ``first``: peers to ask before the others."""
        if self._fetch is not None or self._n == 1:
            return
        self._start_fetch(Height(self._committed_height + PROBE_SPAN), first, probe=True)

    def _start_fetch(
        self, target: Height, candidates: Sequence[ValidatorIndex], *, probe: bool = False
    ) -> None:
        others = [peer for peer in candidates if peer != self._index]
        others += [
            ValidatorIndex(peer) for peer in range(self._n) if peer != self._index and peer not in others
        ]
        if self._fetch is not None:
            self._fetch.target = Height(max(self._fetch.target, target))
            return
        if not probe:
            self._state_transfer_count += 1
        self._fetch = _FetchState(target, others, probe=probe, follow=probe)
        self._fetch_next()

    def _fetch_next(self) -> None:
        fetch = self._fetch
        if fetch is None:
            return
        if self._committed_height >= fetch.target:
            self._finish_fetch()
            return
        untried = [peer for peer in fetch.candidates if peer not in fetch.tried]
        if not untried:
            fetch.peer = None  # every peer failed once: wait, then go round again
            self._set_timer(Timer(TimerKind.FETCH), self._get_fetch_retry_ms(fetch))
            return
        fetch.peer = untried[0]
        fetch.tried.add(fetch.peer)
        self._send_fetch(fetch.peer, fetch.target)

    def _send_fetch(self, peer: ValidatorIndex, target: Height) -> None:
        self._emit(Fetch(peer, Height(self._committed_height + 1), target))
        self._set_timer(Timer(TimerKind.FETCH), self._get_view_timeout_ms())  # no answer: ask another

    def _on_fetch_timer(self, fetch: _FetchState) -> None:
        if fetch.peer is not None:
            self._fetch_next()  # the peer never answered
            return
        if fetch.progressed:
            fetch.rounds_failed = 0
        elif self._has_evidence_ahead():
            fetch.rounds_failed += 1  # links down, peers paused: keep asking, less and less often
        else:
            self._fetch = None  # nobody had the blocks: wait for fresh evidence that someone does
            return
        fetch.tried.clear()
        fetch.progressed = False
        self._fetch_next()

    def _finish_fetch(self) -> None:
        self._fetch = None
        self._emit(CancelTimer(Timer(TimerKind.FETCH)))

    def _take_fetched(self, peer: ValidatorIndex, blocks: Sequence[tuple[Block, CommitCertificate]]) -> None:
        """Deliver what a fetch brought, blame a peer that answered wrong, and go on: ask the
        same peer for more, another peer, or stop once the target is reached."""
        delivered, fault = self._apply_fetched(blocks)
        if fault is not None:
            self._drop(f"fetch_{fault}")
            if fault != "empty":  # a peer that is behind too is not to blame
                self._blamed[peer] += 1
        if delivered:
            self._after_delivery()
            if not self._changing:
                self._advance()  # slots that waited on the fetched parent (a re-proposal) move on
        fetch = self._fetch
        if fetch is not None and delivered:
            fetch.progressed = True
            if fetch.probe:
                fetch.probe = False
                self._state_transfer_count += 1
            if fetch.follow and delivered <= 2 * self._config.window_max:
                fetch.target = self._committed_height  # near the head: the votes it hears carry it on
        if fetch is not None and peer == fetch.peer:
            if self._committed_height >= fetch.target:
                self._finish_fetch()
            elif delivered and fault is None:
                self._send_fetch(peer, fetch.target)
            else:
                self._fetch_next()
        if delivered:
            self._follow_certified_view()

    def _apply_fetched(self, blocks: Sequence[tuple[Block, CommitCertificate]]) -> tuple[int, str | None]:
        """Deliver the certified blocks that extend the chain; stop at the first bad one."""
        delivered = 0
        fault: str | None = None if blocks else "empty"
        for block, certificate in blocks:
            if block.height <= self._committed_height:
                continue
            fault = self._check_fetched(block, certificate)
            if fault is not None:
                break
            self._deliver(block, certificate)
            delivered += 1
        return delivered, fault

    def _check_fetched(self, block: Block, certificate: CommitCertificate) -> str | None:
        if block.height != self._committed_height + 1:
            return "gap"
        if block.header.previous_hash != self._committed_hash:
            return "bad_link"
        if block.header.chain_id != self._config.chain_id:
            return "other_chain"
        try:
            block.validate_body()
            validate_certificate(
                certificate,
                chain_id=self._config.chain_id,
                validator_keys=self._config.validator_keys,
                block_hash=block.hash,
                height=block.height,
            )
        except LedgerError:
            return "bad_certificate"
        try:
            self._application.validate_block(block)  # so the application can build on it at once
        except InvalidBlock:
            return "invalid_block"
        return None
