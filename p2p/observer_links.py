"""Read-only links between a hub and an observer: ``GET /p2p/observer`` on the hub's peer port.

An observer holds no validator key, so it cannot run the validator handshake
(handshake.py). It is authenticated by TLS alone: the peer listener already
refused anyone without a certificate of the network's CA that is not revoked,
and this endpoint then admits only a certificate naming
``hubledger://observer/<name>``. The observer, dialling, checks that the
certificate it is answered with names the hub it meant to reach, so every
answer it judges is known to come from that hub.

Frames are the envelope of envelope.py. On such a link a hub answers
requests (the node decides which kinds: block fetches and status) and
nothing else: a one-way message (a consensus message) from an observer is
dropped unread, counted by reason and logged (once a minute per observer and
reason), and never reaches the replica.
Requests are answered one at a time, in order, so a link costs a hub at
most one request's work at a time; one observer name may hold
``LINKS_PER_OBSERVER_MAX`` links, and its answers are paid from a budget of
bytes (observer_budget.py), so a leaked observer certificate can neither
lock the others out nor keep the hub's event loop busy. A failed request is
answered with its error code, counted, and logged once a minute per
observer and code. The node closes every link when it reloads its TLS files
(node/tls_reload.py), so a revoked observer is refused on the way back in.
"""

from __future__ import annotations

import asyncio
import itertools
import ssl
from collections import Counter
from collections.abc import Awaitable, Callable

import aiohttp
import structlog
from aiohttp import WSMsgType, web

from ledger.errors import DecodeError
from ledger.tls_identity import Identity, IdentityInvalid, Role
from p2p.envelope import (
    ENVELOPE_BYTES_OVERHEAD,
    Frame,
    FrameKind,
    decode_frame,
    encode_frame,
    make_error_frame,
)
from p2p.errors import PeerUnavailable, RequestFailed, RequestTimeout
from p2p.guard import refuse_before_upgrade
from p2p.observer_budget import RATE_LIMITED, AnswerBudget
from p2p.tls import get_refusal_reason, get_tls_session

OBSERVER_PATH = "/p2p/observer"
OBSERVER_LINKS_MAX = 16  # observer links to one hub at once, all observers together
LINKS_PER_OBSERVER_MAX = 2  # links of one observer name: one leaked certificate cannot take them all
REQUEST_BYTES_MAX = 4096  # an observer asks small questions; its answers may be large
RESPONSE_BYTES_MAX = 16 * 1024 * 1024
CLOSE_TIMEOUT_S = 5.0
REFUSAL_LOG_INTERVAL_S = 60.0  # refusals and failures are all counted, logged once a minute per kind
REFUSAL_DETAILS = {
    "read_only": "an observer link is read-only: only block and status requests are answered",
    "rate_limited": "this observer spent its budget of answered bytes; it is answered "
    f"{RATE_LIMITED} until the budget refills (p2p/observer_budget.py)",
}

log = structlog.get_logger("p2p")
RequestAnswerer = Callable[[str, bytes], Awaitable[bytes]]  # (observer name, request) -> response


class ObserverEndpoint:
    """The hub's side: admits observers, answers their requests within budget, refuses everything else."""

    def __init__(
        self,
        answer: RequestAnswerer,
        *,
        links_max: int = OBSERVER_LINKS_MAX,
        links_per_observer_max: int = LINKS_PER_OBSERVER_MAX,
        budget: AnswerBudget | None = None,
    ) -> None:
        self._answer = answer
        self._links_max = links_max
        self._links_per_observer_max = links_per_observer_max
        self._budget = budget or AnswerBudget(lambda: int(asyncio.get_running_loop().time() * 1000))
        self._links: dict[web.WebSocketResponse, str] = {}  # link -> the observer's name
        self.refused: Counter[tuple[str, str]] = Counter()  # (observer, reason) -> frames refused
        self.links_refused: Counter[str] = Counter()  # reason -> connections refused
        self.failed: Counter[tuple[str, str]] = Counter()  # (observer, code) -> requests that failed
        self._logged_s: dict[tuple[str, str, str], float] = {}  # when each refusal or failure was last logged

    def add_routes(self, app: web.Application) -> None:
        app.router.add_get(OBSERVER_PATH, self._on_websocket)
        app.on_shutdown.append(lambda _: self.close_all())

    @property
    def linked(self) -> int:
        return len(self._links)

    async def close_all(self) -> int:
        """Close every observer link (a TLS reload: each must handshake again); returns how many."""
        links = list(self._links)
        await asyncio.gather(*(ws.close() for ws in links), return_exceptions=True)
        return len(links)

    async def _on_websocket(self, request: web.Request) -> web.StreamResponse:
        transport = request.transport
        try:
            identity = get_tls_session(
                transport.get_extra_info("ssl_object") if transport else None
            ).peer_identity
        except IdentityInvalid as error:
            return await self._refuse(request, "tls_identity", f"{error.message}\n")
        if identity.role is not Role.OBSERVER:
            return await self._refuse(
                request, "not_an_observer", f"{identity} is not an observer; validators use /p2p\n"
            )
        if len(self._links) >= self._links_max:
            return await self._refuse(
                request, "too_many_observers", f"{self._links_max} observers linked already\n"
            )
        if list(self._links.values()).count(identity.name) >= self._links_per_observer_max:
            return await self._refuse(
                request,
                "too_many_links",
                f"observer {identity.name} holds {self._links_per_observer_max} links to this hub already\n",
            )
        ws = web.WebSocketResponse(
            max_msg_size=REQUEST_BYTES_MAX + ENVELOPE_BYTES_OVERHEAD,
            compress=False,
            timeout=CLOSE_TIMEOUT_S,  # how long a close waits for the observer's reply (a reload waits)
        )
        await ws.prepare(request)
        self._links[ws] = identity.name
        log.info("observer_connected", observer=identity.name, remote=request.remote)
        try:
            await self._serve(identity.name, ws)
        finally:
            del self._links[ws]
            if identity.name not in self._links.values():
                self._budget.forget(identity.name)
            log.info("observer_disconnected", observer=identity.name)
        return ws

    async def _refuse(self, request: web.Request, reason: str, text: str) -> web.StreamResponse:
        self.links_refused[reason] += 1
        log.info("observer_refused", reason=reason, detail=text.strip())
        return await refuse_before_upgrade(request, text, status=403)

    async def _serve(self, observer: str, ws: web.WebSocketResponse) -> None:
        async for message in ws:
            if message.type is not WSMsgType.BINARY:
                self._count_refusal(observer, "not_binary")
                continue
            try:
                frame = decode_frame(message.data, payload_bytes_max=REQUEST_BYTES_MAX)
            except DecodeError:
                self._count_refusal(observer, "malformed_frame")
                continue
            if frame.kind is not FrameKind.REQUEST:
                # An observer never votes: whatever it sends besides a question is refused here.
                self._count_refusal(
                    observer, "consensus_message" if frame.kind is FrameKind.MESSAGE else "response"
                )
                continue
            answer = await self._answer_one(observer, frame)
            if ws.closed:
                return  # closed while we answered (a TLS reload, shutdown): nobody to answer
            await ws.send_bytes(encode_frame(answer))

    async def _answer_one(self, observer: str, frame: Frame) -> Frame:
        if not self._budget.may_answer(observer):
            self._count_refusal(observer, "rate_limited")
            return make_error_frame(frame.request_id, RATE_LIMITED)
        try:
            response = await self._answer(observer, frame.payload)
        except Exception as error:  # the answerer's error becomes the observer's answer
            code = str(getattr(error, "code", "HANDLER_ERROR"))
            self._budget.charge(observer, 0)
            self._count_failure(observer, code, str(error))
            return make_error_frame(frame.request_id, code)
        self._budget.charge(observer, len(response))
        return Frame(FrameKind.RESPONSE, frame.request_id, response)

    def _count_refusal(self, observer: str, reason: str) -> None:
        key = (observer, reason)
        self.refused[key] += 1
        if self._may_log(("refused", *key)):  # counted: an observer that floods us must not flood the log
            log.warning(
                "observer_message_refused",
                observer=observer,
                reason=reason,
                refused=self.refused[key],
                detail=REFUSAL_DETAILS.get(reason, REFUSAL_DETAILS["read_only"]),
            )

    def _count_failure(self, observer: str, code: str, reason: str) -> None:
        key = (observer, code)
        self.failed[key] += 1
        if self._may_log(("failed", *key)):
            count = self.failed[key]
            log.info("observer_request_failed", observer=observer, code=code, reason=reason, failed=count)

    def _may_log(self, key: tuple[str, str, str]) -> bool:
        """At most one line a minute for each kind of refusal or failure of each observer."""
        now_s = asyncio.get_running_loop().time()
        if now_s - self._logged_s.get(key, -REFUSAL_LOG_INTERVAL_S) < REFUSAL_LOG_INTERVAL_S:
            return False
        self._logged_s[key] = now_s
        return True


class HubLink:
    """The observer's side of one link: dials the hub, checks its certificate, asks one thing at a time."""

    def __init__(self, hub: str, url: str, session: aiohttp.ClientSession, context: ssl.SSLContext) -> None:
        self.hub = hub
        self.url = url
        self._session = session
        self._context = context
        self._ws: aiohttp.ClientWebSocketResponse | None = None
        self._ids = itertools.count(1)
        self._lock = asyncio.Lock()

    @property
    def connected(self) -> bool:
        return self._ws is not None and not self._ws.closed

    async def request(self, payload: bytes, *, timeout_s: float) -> bytes:
        """The hub's answer; raises PeerUnavailable, RequestTimeout or RequestFailed."""
        async with self._lock:
            try:
                async with asyncio.timeout(timeout_s):
                    ws = await self._connect()
                    request_id = next(self._ids)
                    await ws.send_bytes(encode_frame(Frame(FrameKind.REQUEST, request_id, payload)))
                    return await self._receive(ws, request_id)
            except TimeoutError:
                await self.close()
                raise RequestTimeout(f"hub {self.hub} did not answer within {timeout_s:.1f} s") from None
            except (aiohttp.ClientError, OSError, DecodeError) as error:
                await self.close()
                raise PeerUnavailable(f"hub {self.hub} at {self.url}: {_describe(error)}") from None

    async def close(self) -> None:
        ws, self._ws = self._ws, None
        if ws is not None:
            await ws.close()

    async def _connect(self) -> aiohttp.ClientWebSocketResponse:
        if self._ws is not None and not self._ws.closed:
            return self._ws
        ws = await self._session.ws_connect(
            self.url,
            max_msg_size=RESPONSE_BYTES_MAX + ENVELOPE_BYTES_OVERHEAD,
            timeout=aiohttp.ClientWSTimeout(ws_close=CLOSE_TIMEOUT_S),
            ssl=self._context,
        )
        try:
            identity = get_tls_session(ws.get_extra_info("ssl_object")).peer_identity
        except IdentityInvalid as error:
            await ws.close()
            raise PeerUnavailable(
                f"hub {self.hub} at {self.url}: {error.message}", code="TLS_IDENTITY"
            ) from None
        if identity != Identity(Role.HUB, self.hub):
            await ws.close()
            raise PeerUnavailable(
                f"{self.url} answered with the certificate of {identity}, not of hub {self.hub}",
                code="TLS_IDENTITY",
            )
        self._ws = ws
        log.info("hub_linked", hub=self.hub, url=self.url)
        return ws

    async def _receive(self, ws: aiohttp.ClientWebSocketResponse, request_id: int) -> bytes:
        message = await ws.receive()
        if message.type is not WSMsgType.BINARY:
            raise aiohttp.ClientError(f"link closed ({message.type.name})")
        frame = decode_frame(message.data, payload_bytes_max=RESPONSE_BYTES_MAX)
        if frame.request_id != request_id or frame.kind not in (FrameKind.RESPONSE, FrameKind.ERROR):
            raise DecodeError("the hub answered something other than our request")
        if frame.kind is FrameKind.ERROR:
            raise RequestFailed(
                f"hub {self.hub} answered with error {frame.error_code}", code=frame.error_code
            )
        return frame.payload


def _describe(error: BaseException) -> str:
    if isinstance(error, aiohttp.ClientSSLError):
        return get_refusal_reason(getattr(error, "certificate_error", None) or error.os_error)
    return str(error) or type(error).__name__
