"""What a validator answers over its peer port: requests from validators and from observers.

Validators ask by a request's "kind" (a CBOR map with that key): the status
board registers "status", anything else is taken for state transfer. An
observer (p2p/observer_links.py) may ask only what reads the chain,
``OBSERVER_REQUEST_KINDS``; any other request from it is answered with the
error code OBSERVER_READ_ONLY, and its one-way messages never get this far.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping

from ledger import cbor
from ledger.errors import DecodeError, LedgerError
from ledger.genesis import Genesis
from ledger.keys import PrivateKey
from node.config_sections import NodeConfig
from node.state_transfer import REQUEST_BYTES_MAX
from node.tls_setup import get_tls_files
from p2p.network import PeerNetwork
from p2p.tls import PeerTls

RequestHandler = Callable[[int, bytes], Awaitable[bytes]]  # (peer, request) -> response
STATUS_REQUEST_KIND = "get_status"  # answered by node/peer_status.py
OBSERVER_REQUEST_KINDS = ("get_blocks", STATUS_REQUEST_KIND)
OBSERVER_PEER = -1  # the "peer index" an observer's request is answered under: it is no validator


class ObserverReadOnly(LedgerError):
    code = "OBSERVER_READ_ONLY"


class PeerRequests:
    """Routes each request to the handler of its kind; state transfer answers the rest."""

    def __init__(self, default: RequestHandler) -> None:
        self._default = default
        self._handlers: dict[str, RequestHandler] = {}

    def add(self, kind: str, handler: RequestHandler) -> None:
        self._handlers[kind] = handler

    async def answer(self, peer: int, data: bytes) -> bytes:
        return await self._handlers.get(get_request_kind(data), self._default)(peer, data)

    async def answer_observer(self, observer: str, data: bytes) -> bytes:
        kind = get_request_kind(data)
        if kind not in OBSERVER_REQUEST_KINDS:
            raise ObserverReadOnly(
                f"observer {observer} asked {kind or 'something'!r}: observers may only read"
            )
        return await self.answer(OBSERVER_PEER, data)


def get_request_kind(data: bytes) -> str:
    """The "kind" of a peer's request, or "" for anything else (state transfer then answers it)."""
    try:
        value = cbor.decode(data, bytes_max=REQUEST_BYTES_MAX)
    except DecodeError:
        return ""
    kind = value.get("kind") if isinstance(value, dict) else None
    return kind if isinstance(kind, str) else ""


def make_peer_network(
    config: NodeConfig,
    genesis: Genesis,
    index: int,
    key: PrivateKey,
    requests: PeerRequests,
    callbacks: Mapping[str, Callable[..., None]],
) -> PeerNetwork:
    """The validator links of p2p.peers; ``callbacks`` are on_message, on_connected, on_disconnected."""
    names = [validator.name for validator in genesis.validators]
    peer_urls = {}
    for name, url in config.p2p.peers.items():
        if name not in names:
            raise ValueError(f"p2p.peers names {name!r}, which is not a validator in genesis")
        peer_urls[names.index(name)] = url
    return PeerNetwork(
        chain_id=genesis.chain_id,
        validator_keys=genesis.validator_keys,
        self_index=index,
        key=key,
        peer_urls=peer_urls,
        on_message=callbacks["on_message"],
        on_request=requests.answer,
        on_connected=callbacks["on_connected"],
        on_disconnected=callbacks["on_disconnected"],
        tls=PeerTls.load(get_tls_files(config), names),  # checked at start (node/tls_setup.py)
    )
