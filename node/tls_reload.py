"""New certificates and revocation lists without a restart: SIGHUP, or a change seen on disk.

A listener's SSLContext is handed to the event loop once, when it starts
listening, and OpenSSL can add a CRL to a context but never take the old one
out. So a reload builds fresh contexts from the [tls] files (checked exactly
as at start, node/tls_setup.py) and makes them current:

- **listeners** keep the context they started with, whose ``sni_callback``
  (called by OpenSSL for every new connection, with or without a server
  name) switches the connection to the current context before the
  certificates are exchanged: a new connection presents the new certificate
  and is judged against the new CRL;
- **peer links** (``PeerNetwork.replace_tls``) dial with the current
  context, and every live link is closed so that it handshakes again: a peer
  whose certificate was revoked is refused on the way back in, the others
  link again within the redial backoff;
- **observer links** (``ObserverEndpoint.close_all``) are all closed too, for
  the same reason: a revoked observer is shut out at once, the others dial
  again at their next poll.

Files that do not pass the check (a certificate copied half-way, of another
hub, not yet matching its key) are not used: the node logs why, counts a
failed reload and goes on with what it had. Files read the same as before
change nothing (no link is closed).
"""

from __future__ import annotations

import asyncio
import hashlib
import ssl
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import structlog
from prometheus_client.core import CounterMetricFamily, Metric

from node.config_sections import NodeConfig
from node.errors import ConfigError
from node.tls_setup import NodeTls, get_tls_files, load_node_tls
from p2p.network import PeerNetwork
from p2p.observer_links import ObserverEndpoint

log = structlog.get_logger("tls")

CONFIG_LABEL = Path("[tls]")


def compute_files_digest(config: NodeConfig) -> bytes:
    """What the [tls] files hold now, in one hash; unreadable files count as their error."""
    files = get_tls_files(config)
    digest = hashlib.sha256()
    for path in (files.ca_file, files.certificate_file, files.key_file, files.crl_file):
        try:
            digest.update(hashlib.sha256(path.read_bytes()).digest())
        except OSError as error:
            digest.update(f"unreadable {path}: {error.errno}".encode())
    return digest.digest()


def serve_current(listening: ssl.SSLContext, get_current: Callable[[], ssl.SSLContext]) -> None:
    """Make every connection ``listening`` accepts use ``get_current()`` for its handshake."""

    def switch(ssl_object: ssl.SSLObject, _server_name: str | None, context: ssl.SSLContext) -> None:
        current = get_current()
        if current is not context:
            ssl_object.context = current

    listening.sni_callback = switch


class TlsReloader:
    """Holds the node's current TLS and replaces it when the files change (see the module's docstring)."""

    def __init__(
        self,
        config: NodeConfig,
        hub_names: Sequence[str],
        network: PeerNetwork,
        listening: NodeTls,
        *,
        observers: ObserverEndpoint | None = None,
        on_loaded: Callable[[NodeTls], None] | None = None,
    ) -> None:
        self._config = config
        self._hub_names = tuple(hub_names)
        self._network = network
        self._observers = observers
        self._on_loaded = on_loaded
        self.current = listening
        self.outcomes: Counter[str] = Counter()  # loaded, unchanged, failed
        self._digest = compute_files_digest(config)
        self._refused_digest = b""  # files that failed the check: not tried again until they change
        self._lock = asyncio.Lock()
        serve_current(listening.peer.server_context, lambda: self.current.peer.server_context)
        if listening.api_context is not None:
            serve_current(listening.api_context, self._get_api_context)

    def _get_api_context(self) -> ssl.SSLContext:
        context = self.current.api_context
        if context is None:  # api_plaintext cannot change without a restart: the config is read once
            raise RuntimeError("the API listener serves TLS but the current TLS has no API context")
        return context

    def is_changed(self) -> bool:
        return compute_files_digest(self._config) not in (self._digest, self._refused_digest)

    async def reload(self, *, cause: str) -> str:
        """Load the [tls] files if they changed; returns the outcome (loaded, unchanged, failed)."""
        async with self._lock:
            outcome = await self._reload(cause)
        self.outcomes[outcome] += 1
        return outcome

    async def _reload(self, cause: str) -> str:
        digest = compute_files_digest(self._config)
        if digest == self._digest:
            log.info("tls_reload_unchanged", cause=cause)
            return "unchanged"
        try:
            loaded = load_node_tls(self._config, self._hub_names, CONFIG_LABEL)
        except ConfigError as error:
            self._refused_digest = digest
            log.error("tls_reload_failed", cause=cause, problem=error.message, kept="the TLS loaded before")
            return "failed"
        self._digest = digest
        self.current = loaded
        if self._on_loaded is not None:
            self._on_loaded(loaded)
        links = await self._network.replace_tls(loaded.peer)
        observers = 0 if self._observers is None else await self._observers.close_all()
        log.info("tls_reloaded", cause=cause, links_rehandshaking=links, observer_links_closed=observers)
        return "loaded"

    def collect(self) -> Iterator[Metric]:
        family = CounterMetricFamily(
            "hubledger_tls_reloads",
            "Reloads of the [tls] files (SIGHUP or a change on disk), by outcome: loaded, unchanged, "
            "failed (the files did not pass the start-up checks; the node kept what it had).",
            labels=["outcome"],
        )
        for outcome in ("loaded", "unchanged", "failed"):
            family.add_metric([outcome], self.outcomes[outcome])
        yield family

    async def watch(self, interval_s: float) -> None:
        """Reload whenever the files change on disk, checked every ``interval_s``; runs until cancelled."""
        while True:
            await asyncio.sleep(interval_s)
            if self.is_changed():
                await self.reload(cause="files_changed")
