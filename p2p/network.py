"""PeerNetwork: authenticated links between the validators of one chain.

Theory of operation. Every pair of validators shares one WebSocket link; the
lower index dials the higher one's ``/p2p`` endpoint and redials with
exponential backoff and jitter whenever the link is lost (a failed attempt, whatever
its error, never ends the dial task: the pair would stay unlinked). A new link first
runs the handshake (handshake.py): no frame of anyone who has not proved
its validator index is ever read, and such a stranger may send a few KiB at
most (guard.py). Links are accepted, dialled and run in endpoints.py. If a pair ends up with two links (a peer
restarted before we noticed its old link died), the newer replaces the older,
on both sides, because only one side dials.

Payloads are opaque. ``send`` and ``broadcast`` enqueue on the peer's bounded
queue (queue.py) and return at once; the writer of the peer's current link
drains it, so order is kept per peer. ``request`` sends a request frame and
waits for the response with the same id over the same link. A one-way message
still queued after ``send_age_max_ms`` (its peer was away) expires unsent, and
``on_connected`` tells the node of every new link, so that a replica back from
a restart or a partition can ask the peer what it missed, and ``on_disconnected``
of every link lost (not replaced), so that it can suspect a primary it cannot reach.

Faults: the node decodes payloads and calls ``report_fault``; p2p itself
reports malformed envelopes, text frames and oversize messages. A peer with
more than ``faults_max`` faults loses its link and is refused (neither dialled
nor accepted) for ``fault_ban_ms``; its queue is emptied, then it starts over.
"""

from __future__ import annotations

import asyncio
import random
import secrets
from collections import Counter
from collections.abc import Awaitable, Callable, Mapping, Sequence

import aiohttp
import structlog
from aiohttp import web

from ledger.errors import DecodeError
from ledger.keys import PrivateKey
from p2p.endpoints import LinkEndpoints
from p2p.envelope import (
    Frame,
    FrameKind,
    decode_frame,
    encode_frame,
    make_error_frame,
)
from p2p.errors import (
    NO_LINK,
    P2PError,
    PayloadTooLarge,
    PeerUnavailable,
    RequestFailed,
    RequestTimeout,
    SettingsInvalid,
)
from p2p.faults import LinkRules, get_drop_reason
from p2p.guard import HandshakeSlots
from p2p.link import CLOSE_TIMEOUT_S, Link, PeerState, WebSocket, close_within
from p2p.queue import Outbound
from p2p.requests import PendingRequests
from p2p.settings import P2PSettings
from p2p.tls import PeerTls

P2P_PATH = "/p2p"
CLOSE_FAULTS = 4004

DEFAULT_SETTINGS = P2PSettings()

log = structlog.get_logger("p2p")


class PeerNetwork(LinkEndpoints):
    def __init__(
        self,
        *,
        chain_id: str,
        validator_keys: Sequence[bytes],
        self_index: int,
        key: PrivateKey,
        peer_urls: Mapping[int, str],
        on_message: Callable[[int, bytes], None],
        on_request: Callable[[int, bytes], Awaitable[bytes]] | None = None,
        on_connected: Callable[[int], None] | None = None,
        on_disconnected: Callable[[int], None] | None = None,
        settings: P2PSettings = DEFAULT_SETTINGS,
        rng: random.Random | None = None,
        tls: PeerTls | None = None,
    ) -> None:
        if not 0 <= self_index < len(validator_keys):
            raise SettingsInvalid(f"self_index {self_index} is not one of {len(validator_keys)} validators")
        if key.public_key.data != validator_keys[self_index]:
            raise SettingsInvalid(f"the key given is not the key of validator {self_index} in genesis")
        scheme = "wss://" if tls is not None else "ws://"
        for index, url in peer_urls.items():
            if not 0 <= index < len(validator_keys) or index == self_index:
                raise SettingsInvalid(f"peer_urls names {index}, which is not another validator")
            if not url.startswith(scheme):
                raise SettingsInvalid(f"peer URL {url!r} must start with {scheme}")
        if tls is not None and len(tls.hub_names) != len(validator_keys):
            raise SettingsInvalid("the TLS settings name another number of hubs than there are validators")
        self.chain_id = chain_id
        self.self_index = self_index
        self.settings = settings
        self._validator_keys = tuple(validator_keys)
        self._key = key
        self._tls = tls
        self._peer_urls = dict(peer_urls)
        self._on_message = on_message
        self._on_request = on_request
        self._on_connected = on_connected
        self._on_disconnected = on_disconnected
        self._rng = rng if rng is not None else random.Random(secrets.randbits(64))
        self._rules = LinkRules()
        self._peers = {i: PeerState(i, settings) for i in range(len(validator_keys)) if i != self_index}
        self._requests = PendingRequests()
        self._refused: Counter[str] = Counter()
        self._session: aiohttp.ClientSession | None = None
        self._dialers: list[asyncio.Task[None]] = []
        self._tasks: set[asyncio.Task[None]] = set()
        self._handshaking: set[WebSocket] = set()
        self._slots = HandshakeSlots(
            pending_max=settings.handshakes_pending_max, per_address_max=settings.handshakes_per_address_max
        )
        self._links: set[Link] = set()
        self._stopping = False
        self._stopped: asyncio.Event | None = None
        self._log = log.bind(node=self_index)

    # Public API

    def add_routes(self, app: web.Application) -> None:
        """Mount GET /p2p; shutting ``app`` down stops the network, so no open link holds the shutdown up."""
        app.router.add_get(P2P_PATH, self._on_websocket)
        app.on_shutdown.append(self._on_app_shutdown)

    async def _on_app_shutdown(self, app: web.Application) -> None:
        await self.stop()

    @property
    def tls(self) -> PeerTls | None:
        return self._tls

    async def replace_tls(self, tls: PeerTls) -> int:
        """Handshake under ``tls`` from now on, and close every live link so it handshakes again
        (a peer whose certificate is no longer accepted is refused then); returns how many closed."""
        if self._tls is None or len(tls.hub_names) != len(self._validator_keys):
            raise SettingsInvalid("TLS can be replaced only on a network that started with TLS")
        self._tls = tls
        links = list(self._links)
        await asyncio.gather(*(link.close("tls_reloaded") for link in links), return_exceptions=True)
        return len(links)

    def count_refusal(self, reason: str) -> None:
        """Count a connection refused before it reached /p2p (a TLS handshake that failed)."""
        self._refused[reason] += 1

    async def start(self) -> None:
        self._session = aiohttp.ClientSession()
        for peer in sorted(self._peer_urls):
            if peer > self.self_index:
                self._start_dialer(peer)

    def _start_dialer(self, peer: int) -> None:
        task = asyncio.create_task(self._dial_forever(peer), name=f"p2p-dial-{peer}")
        self._dialers.append(task)
        task.add_done_callback(lambda done: self._on_dialer_done(peer, done))

    def _on_dialer_done(self, peer: int, task: asyncio.Task[None]) -> None:
        # A dial task ends only when we stop; one that ended otherwise would leave the pair
        # unlinked for good, and nobody would know: say so, and dial again.
        if self._stopping:
            return
        self._dialers.remove(task)
        error = "cancelled" if task.cancelled() else repr(task.exception())
        self._log.warning("dial_task_ended", peer=peer, error=error)
        self._start_dialer(peer)

    async def stop(self) -> None:
        """Close every link, end our tasks and fail pending requests; calling it again is harmless."""
        if self._stopped is not None:
            await self._stopped.wait()
            return
        self._stopped = asyncio.Event()
        self._stopping = True
        for task in [*self._dialers, *self._tasks]:
            task.cancel()
        await asyncio.gather(
            *(link.close("stopping") for link in self._links),
            *(close_within(ws, CLOSE_TIMEOUT_S) for ws in self._handshaking),
            return_exceptions=True,
        )
        await asyncio.gather(*self._dialers, *self._tasks, return_exceptions=True)
        waits = [asyncio.ensure_future(link.finished.wait()) for link in self._links]
        if waits:
            _, late = await asyncio.wait(waits, timeout=CLOSE_TIMEOUT_S * 2)
            for wait in late:
                wait.cancel()
            await asyncio.gather(*late, return_exceptions=True)
        self._dialers.clear()
        self._requests.fail_all("the network is stopping")
        if self._session is not None:
            await self._session.close()
            self._session = None
        self._stopped.set()

    def send(self, peer: int, payload: bytes) -> None:
        self._validate_payload(payload)
        self._enqueue(self._get_peer(peer), Frame(FrameKind.MESSAGE, 0, payload), essential=False)

    def broadcast(self, payload: bytes) -> None:
        self._validate_payload(payload)
        frame = Frame(FrameKind.MESSAGE, 0, payload)
        for state in self._peers.values():
            self._enqueue(state, frame, essential=False)

    async def request(self, peer: int, payload: bytes) -> bytes:
        """Ask ``peer`` and wait for its answer; raises PeerUnavailable, RequestTimeout or RequestFailed."""
        self._validate_payload(payload)
        state = self._get_peer(peer)
        if state.link is None:
            raise PeerUnavailable(f"no link to peer {peer}", code=NO_LINK)
        if self._requests.count_for(peer) >= self.settings.requests_pending_max:
            raise PeerUnavailable(f"{self.settings.requests_pending_max} requests to peer {peer} pending")
        request_id, future = self._requests.open(peer)
        try:
            dropped = self._enqueue(state, Frame(FrameKind.REQUEST, request_id, payload), essential=True)
            if dropped in ("queue_full", "banned"):
                raise PeerUnavailable(f"request to peer {peer} not sent: {dropped}")
            # A request dropped by a link rule is lost on the way, as it would be in a real partition.
            async with asyncio.timeout(self.settings.request_timeout_ms / 1000):
                return await future
        except TimeoutError:
            timeout_ms = self.settings.request_timeout_ms
            raise RequestTimeout(f"peer {peer} did not answer within {timeout_ms} ms") from None
        finally:
            self._requests.forget(request_id)

    def report_fault(self, peer: int, reason: str) -> None:
        state = self._get_peer(peer)
        state.stats.faults[reason] += 1
        state.faults_since_ban += 1
        self._log.debug("peer_fault", peer=peer, reason=reason)
        if state.faults_since_ban > self.settings.faults_max and not self._is_banned(state):
            self._ban(state, reason)

    def set_link_rules(self, rules: LinkRules) -> None:
        self._rules = rules
        self._log.info("link_rules_set", rules={peer: str(rule) for peer, rule in rules.peers.items()})

    def connected_peers(self) -> list[int]:
        return sorted(state.index for state in self._peers.values() if state.link is not None)

    def get_stats(self) -> dict[str, object]:
        now_s = asyncio.get_running_loop().time() if self._session is not None else 0.0
        peers = {}
        for index, state in sorted(self._peers.items()):
            banned_ms = max(0, int((state.banned_until_s - now_s) * 1000)) if now_s else 0
            peers[index] = state.stats.to_dict(
                connected=state.link is not None, queued=len(state.queue), banned_ms=banned_ms
            )
        refused = dict(sorted(self._refused.items()))
        return {"self": self.self_index, "peers": peers, "handshakes_refused": refused}

    # Outbound

    def _validate_payload(self, payload: bytes) -> None:
        if len(payload) > self.settings.message_bytes_max:
            raise PayloadTooLarge(
                f"payload of {len(payload)} bytes is over message_bytes_max {self.settings.message_bytes_max}"
            )

    def _get_peer(self, peer: int) -> PeerState:
        state = self._peers.get(peer)
        if state is None:
            raise PeerUnavailable(f"{peer} is not another validator", code="UNKNOWN_PEER")
        return state

    def _enqueue(self, state: PeerState, frame: Frame, *, essential: bool) -> str | None:
        """Queue ``frame`` for ``state``'s writer; returns why it was dropped (and counted), if it was."""
        reason = get_drop_reason(self._get_rule(state.index), self._rng, outbound=True)
        if reason is None and self._is_banned(state):
            reason = "banned"
        if reason is not None:
            state.stats.dropped[reason] += 1
            return reason
        loop_time = asyncio.get_running_loop().time()
        item = Outbound(encode_frame(frame), len(frame.payload), essential, loop_time)
        dropped = state.queue.put(item)
        if dropped is None:
            return None
        state.stats.dropped["queue_full"] += 1
        return "queue_full" if dropped is item else None

    # Inbound: the one door for frames of an authenticated peer

    def _on_frame(self, peer: int, data: bytes) -> None:
        state = self._peers[peer]
        if state.link is None or self._stopping:
            return
        reason = get_drop_reason(self._get_rule(peer), self._rng, outbound=False)
        if reason is not None:
            state.stats.dropped[f"inbound_{reason}"] += 1
            return
        try:
            frame = decode_frame(data, payload_bytes_max=self.settings.message_bytes_max)
        except DecodeError as error:
            self._log.debug("malformed_frame", peer=peer, reason=error.message)
            self.report_fault(peer, "malformed_frame")
            return
        state.stats.messages_received += 1
        state.stats.bytes_received += len(frame.payload)
        self._log.debug("frame_received", peer=peer, kind=frame.kind.name, bytes=len(frame.payload))
        if frame.kind is FrameKind.MESSAGE:
            self._deliver(peer, frame.payload)
        elif frame.kind is FrameKind.REQUEST:
            self._start_answer(state, frame)
        else:
            self._on_response(peer, frame)

    def _deliver(self, peer: int, payload: bytes) -> None:
        try:
            self._on_message(peer, payload)
        except Exception:  # a bug above us must not take the link down with it
            self._log.exception("on_message_failed", peer=peer)

    def _on_response(self, peer: int, frame: Frame) -> None:
        result: bytes | P2PError = frame.payload
        if frame.kind is FrameKind.ERROR:
            code = frame.error_code
            result = RequestFailed(f"peer {peer} answered with error {code}", code=code)
        resolved = self._requests.resolve(peer, frame.request_id, result)
        if not resolved and not self._requests.is_known(frame.request_id):
            self.report_fault(peer, "unsolicited_response")

    def _start_answer(self, state: PeerState, frame: Frame) -> None:
        if self._on_request is None:
            self._enqueue(state, make_error_frame(frame.request_id, "NO_HANDLER"), essential=True)
            return
        if state.requests_inbound >= self.settings.requests_inbound_max:
            self._enqueue(state, make_error_frame(frame.request_id, "BUSY"), essential=True)
            return
        # Counted here, not in the task: a burst read in one go must not slip past the limit.
        state.requests_inbound += 1
        task = asyncio.create_task(self._answer(state, frame), name=f"p2p-answer-{state.index}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _answer(self, state: PeerState, frame: Frame) -> None:
        if self._on_request is None:
            raise RuntimeError("_answer runs only when an on_request handler exists")
        try:
            response = await self._on_request(state.index, frame.payload)
        except Exception as error:  # the handler's error becomes the peer's answer
            code = str(getattr(error, "code", "HANDLER_ERROR"))
            self._log.info("request_failed", peer=state.index, code=code, reason=str(error))
            self._enqueue(state, make_error_frame(frame.request_id, code), essential=True)
            return
        finally:
            state.requests_inbound -= 1
        if len(response) > self.settings.message_bytes_max:
            self._log.info("response_too_large", peer=state.index, bytes=len(response))
            self._enqueue(state, make_error_frame(frame.request_id, "TOO_LARGE"), essential=True)
            return
        self._enqueue(state, Frame(FrameKind.RESPONSE, frame.request_id, response), essential=True)

    # Faults and bans

    def _ban(self, state: PeerState, reason: str) -> None:
        state.banned_until_s = asyncio.get_running_loop().time() + self.settings.fault_ban_ms / 1000
        state.faults_since_ban = 0
        dropped = state.queue.clear()
        state.stats.dropped["banned"] += dropped
        self._log.info(
            "peer_banned", peer=state.index, last_reason=reason, ban_ms=self.settings.fault_ban_ms,
            faults=dict(state.stats.faults),
        )
        link = state.link
        if link is not None:
            task = asyncio.create_task(link.close("too many faults", code=CLOSE_FAULTS))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
