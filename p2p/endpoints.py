"""How PeerNetwork's links come to be: accepting, dialling, authenticating and running them.

A mixin of PeerNetwork (network.py), which owns the state used here. The
accepting side admits a connection only within the handshake limits of
guard.py (slots in all and per address, a byte budget until the peer's proof
verified), then runs the handshake (authenticate.py); the dialling side
redials each higher-indexed peer with exponential backoff and jitter. Either
way a proven peer's link replaces any older one and runs until it closes.
With TLS (tls.py), the listener's TlsSite has already refused anyone without
a valid certificate of the network; the handshake then checks that the
certificate names the hub whose index the peer claims, and binds to the session.
"""

from __future__ import annotations

import asyncio
import random
from collections import Counter
from collections.abc import Callable

import aiohttp
import structlog
from aiohttp import web

from ledger.keys import PrivateKey
from ledger.tls_identity import IdentityInvalid
from p2p.authenticate import authenticate_peer
from p2p.envelope import ENVELOPE_BYTES_OVERHEAD
from p2p.errors import HandshakeRefused
from p2p.faults import LinkRule, LinkRules
from p2p.guard import HandshakeSlots, InboundBudget, refuse_before_upgrade
from p2p.link import CLOSE_TIMEOUT_S, Link, PeerState, WebSocket, close_within
from p2p.requests import PendingRequests
from p2p.settings import P2PSettings
from p2p.tls import PeerTls, TlsSession, get_refusal_reason, get_tls_session

CLOSE_REFUSED = 4001


class LinkEndpoints:
    # State that PeerNetwork.__init__ sets up.
    chain_id: str
    self_index: int
    settings: P2PSettings
    _validator_keys: tuple[bytes, ...]
    _key: PrivateKey
    _tls: PeerTls | None
    _peer_urls: dict[int, str]
    _on_connected: Callable[[int], None] | None
    _on_disconnected: Callable[[int], None] | None
    _rng: random.Random
    _rules: LinkRules
    _peers: dict[int, PeerState]
    _requests: PendingRequests
    _refused: Counter[str]
    _session: aiohttp.ClientSession | None
    _handshaking: set[WebSocket]
    _slots: HandshakeSlots
    _links: set[Link]
    _stopping: bool
    _log: structlog.typing.FilteringBoundLogger

    # Defined by PeerNetwork: the one door for frames, and fault counting.
    def _on_frame(self, peer: int, data: bytes) -> None:
        raise NotImplementedError

    def report_fault(self, peer: int, reason: str) -> None:
        raise NotImplementedError

    def _is_banned(self, state: PeerState) -> bool:
        return state.banned_until_s > asyncio.get_running_loop().time()

    def _get_rule(self, peer: int) -> LinkRule:
        return self._rules.get_rule(peer)

    async def _on_websocket(self, request: web.Request) -> web.StreamResponse:
        remote, transport = request.remote or "?", request.transport
        if self._stopping or transport is None:
            return web.Response(status=503, text="stopping\n")
        refusal = self._slots.get_refusal(remote)
        if refusal is not None:  # before the upgrade: a refused connection costs one small answer
            self._refused[refusal] += 1
            return await refuse_before_upgrade(request, f"{refusal}\n")
        self._slots.take(remote)
        try:
            budget = InboundBudget(transport, bytes_max=self.settings.handshake_bytes_max)
            ws = web.WebSocketResponse(
                max_msg_size=self.settings.message_bytes_max + ENVELOPE_BYTES_OVERHEAD,
                autoping=False,  # the link answers pings and counts them as signs of life
                compress=False,
                timeout=CLOSE_TIMEOUT_S,
            )
            try:
                await ws.prepare(request)
            except ConnectionResetError:  # the dialler gave up while this process was paused
                self._log.debug("peer_gone_before_upgrade", remote=remote)
                return web.Response(status=503, text="closed before the upgrade\n")  # to nobody
            ssl_object = transport.get_extra_info("ssl_object")
            peer = await self._authenticate(
                ws, expected_index=None, remote=remote, budget=budget, ssl_object=ssl_object
            )
        finally:
            self._slots.release(remote)
        if peer is not None:
            await self._run_link(peer, ws)
        return ws

    async def _authenticate(
        self,
        ws: WebSocket,
        *,
        expected_index: int | None,
        remote: str,
        budget: InboundBudget | None = None,
        ssl_object: object = None,
    ) -> int | None:
        self._handshaking.add(ws)
        try:
            tls = self._get_session(ssl_object)
            return await authenticate_peer(
                ws,
                chain_id=self.chain_id,
                validator_keys=self._validator_keys,
                self_index=self.self_index,
                key=self._key,
                expected_index=expected_index,
                timeout_ms=self.settings.handshake_timeout_ms,
                get_refusal=self._get_refusal,
                on_proven=None if budget is None else budget.lift,
                tls=tls,
            )
        except HandshakeRefused as refusal:
            # A link cut for sending too much ends the handshake as "closed": name the cause.
            code = "handshake_too_large" if budget is not None and budget.exceeded else refusal.code
            self._refused[code] += 1
            self._log.info("peer_refused", remote=remote, dialled=expected_index, reason=code,
                           detail=refusal.message)
            await close_within(ws, CLOSE_TIMEOUT_S, code=CLOSE_REFUSED, message=refusal.code.encode("utf-8"))
            return None
        finally:
            self._handshaking.discard(ws)

    def _get_session(self, ssl_object: object) -> tuple[PeerTls, TlsSession] | None:
        """The link's TLS session when the network runs TLS; raises HandshakeRefused if it has none."""
        if self._tls is None:
            return None
        try:
            return self._tls, get_tls_session(ssl_object)
        except IdentityInvalid as error:
            raise HandshakeRefused(error.message, code="tls_identity") from None

    def _get_refusal(self, peer: int) -> str | None:
        if self._stopping:
            return "stopping"
        return "banned" if self._is_banned(self._peers[peer]) else None

    async def _run_link(self, peer: int, ws: WebSocket) -> None:
        state = self._peers[peer]
        if self._stopping:
            await ws.close()
            return
        link = Link(peer=peer, ws=ws, queue=state.queue, stats=state.stats, get_rule=self._get_rule,
                    on_frame=self._on_frame, on_fault=self.report_fault, settings=self.settings)
        old, state.link = state.link, link
        if old is not None:
            await old.close("replaced by a newer link")
        state.stats.connects += 1
        self._links.add(link)
        self._log.info("peer_connected", peer=peer, replaced=old is not None)
        if self._on_connected is not None:
            self._on_connected(peer)
        try:
            await link.run()
        finally:
            self._links.discard(link)
            if state.link is link:
                state.link = None
                self._requests.fail_peer(peer, link.close_reason or "closed")
                if self._on_disconnected is not None and not self._stopping:
                    self._on_disconnected(peer)
            # A link lost is news to an operator; one closed because we stop or replaced is not.
            lost = state.link is None and not self._stopping
            log_at = self._log.warning if lost else self._log.info
            log_at(
                "peer_disconnected", peer=peer, reason=link.close_reason or "closed by peer", lost=lost
            )

    async def _dial_forever(self, peer: int) -> None:
        attempt = 0
        while True:
            state = self._peers[peer]
            while self._is_banned(state):
                await asyncio.sleep(state.banned_until_s - asyncio.get_running_loop().time())
            try:
                linked = await self._dial_once(peer)
            except asyncio.CancelledError:
                if self._stopping or _is_cancelled():
                    raise
                # A cancellation nobody asked for (a deadline inside the client that fired as the
                # process woke from a pause) ended the task without a word, and the pair for good.
                self._log.warning("dial_crashed", peer=peer, error="CancelledError")
                linked = False
            except Exception as error:  # a dial task that dies leaves the pair unlinked for good
                self._log.warning("dial_crashed", peer=peer, error=repr(error))
                linked = False
            attempt = 0 if linked else attempt + 1
            await asyncio.sleep(self._compute_backoff_s(attempt))

    def _compute_backoff_s(self, attempt: int) -> float:
        # Half fixed, half random: peers that lost each other together do not redial in step.
        growth = 1 << min(attempt, 30)
        ceiling_ms = min(self.settings.reconnect_max_ms, self.settings.reconnect_initial_ms * growth)
        return (ceiling_ms / 2 + self._rng.uniform(0, ceiling_ms / 2)) / 1000

    async def _dial_once(self, peer: int) -> bool:
        """Open, authenticate and run one link to ``peer``; True when it got past the handshake.

        Every wait before the link runs has a deadline, the close after it too: a dial task
        that waits without end never redials, and the pair stays unlinked for good.
        """
        ws = await self._open(peer)
        if ws is None:
            return False
        try:
            if not await self._prove(ws, peer):
                return False
            await self._run_link(peer, ws)
            return True
        finally:
            await close_within(ws, CLOSE_TIMEOUT_S)

    async def _prove(self, ws: aiohttp.ClientWebSocketResponse, peer: int) -> bool:
        """Run the handshake on a dialled connection; False when it was refused or stalled."""
        url = self._peer_urls[peer]
        try:
            # The handshake has a deadline of its own; this one covers closing a refused link too.
            async with asyncio.timeout(self.settings.handshake_timeout_ms / 1000 + CLOSE_TIMEOUT_S):
                ssl_object = ws.get_extra_info("ssl_object")
                proven = await self._authenticate(ws, expected_index=peer, remote=url, ssl_object=ssl_object)
        except TimeoutError:
            self._log.info("dial_stalled", peer=peer, url=url)
            return False
        return proven is not None

    async def _open(self, peer: int) -> aiohttp.ClientWebSocketResponse | None:
        """The upgraded connection to ``peer``, or None (logged) when it could not be opened in time."""
        if self._session is None:
            raise RuntimeError("dialling before start()")
        url = self._peer_urls[peer]
        try:
            async with asyncio.timeout(self.settings.handshake_timeout_ms / 1000):
                return await self._session.ws_connect(
                    url,
                    max_msg_size=self.settings.message_bytes_max + ENVELOPE_BYTES_OVERHEAD,
                    autoping=False,
                    timeout=aiohttp.ClientWSTimeout(ws_close=CLOSE_TIMEOUT_S),
                    ssl=self._tls.client_context if self._tls is not None else True,
                )
        except aiohttp.ClientSSLError as error:  # the peer's certificate, or ours, was refused
            reason = get_refusal_reason(getattr(error, "certificate_error", None) or error.os_error)
            self._refused[f"outbound_{reason}"] += 1
            self._log.info("dial_refused", peer=peer, url=url, reason=reason, detail=str(error))
            return None
        except (aiohttp.ClientError, OSError, TimeoutError) as error:
            self._log.debug("dial_failed", peer=peer, url=url, reason=str(error) or type(error).__name__)
            return None


def _is_cancelled() -> bool:
    """Whether someone cancelled the running task (stop() does), rather than a stray deadline."""
    task = asyncio.current_task()
    return task is not None and task.cancelling() > 0
