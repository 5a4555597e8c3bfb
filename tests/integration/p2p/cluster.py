"""A few PeerNetworks on 127.0.0.1, each behind its own aiohttp server, in the test's event loop.

Links are mutual TLS as in a real network: the cluster makes its own CA
(hubledger_tools.pki) and a certificate per validator, named ``hub<index>``.
"""

from __future__ import annotations

import ipaddress
import socket
import ssl
import tempfile
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from aiohttp import web

from hubledger_tools.pki import NetworkPki, PkiLayout
from ledger.keys import PrivateKey
from ledger.tls_identity import Identity, Role
from p2p import P2PSettings, PeerNetwork
from p2p.tls import PeerTls, TlsFiles
from p2p.tls_refusals import count_refusals
from tests.waiting import wait_until

CHAIN_ID = "hubledger-p2p-test"

FAST = P2PSettings(
    reconnect_initial_ms=20,
    reconnect_max_ms=200,
    handshake_timeout_ms=2_000,
    request_timeout_ms=2_000,
)


def bind_socket(port: int = 0) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", port))
    return sock


@dataclass
class Node:
    index: int
    network: PeerNetwork
    runner: web.AppRunner
    received: list[tuple[int, bytes]] = field(default_factory=list)

    def payloads_from(self, peer: int) -> list[bytes]:
        return [payload for sender, payload in self.received if sender == peer]


async def echo_request(peer: int, payload: bytes) -> bytes:
    return b"answer to %d: " % peer + payload


def hub_name(index: int) -> str:
    return f"hub{index}"


class ClusterPki:
    """A CA of the cluster's own, in a temporary directory, and TLS of any identity it issues."""

    def __init__(self, size: int) -> None:
        self._directory = tempfile.TemporaryDirectory(prefix="hubledger-p2p-pki-")
        self.pki = NetworkPki.create(PkiLayout.of(Path(self._directory.name)), CHAIN_ID)
        self.hub_names = [hub_name(index) for index in range(size)]
        for name in self.hub_names:
            self.issue(Identity(Role.HUB, name))

    def issue(self, identity: Identity) -> TlsFiles:
        localhost = [ipaddress.ip_address("127.0.0.1")] if identity.role is Role.HUB else []
        self.pki.issue(identity, ip_addresses=localhost)
        return self.files(identity)

    def files(self, identity: Identity) -> TlsFiles:
        layout = self.pki.layout
        return TlsFiles(layout.ca_certificate, layout.certificate(identity), layout.key(identity), layout.crl)

    def peer_tls(self, identity: Identity) -> PeerTls:
        return PeerTls.load(self.files(identity), self.hub_names)

    def close(self) -> None:
        self._directory.cleanup()


class Cluster:
    """``size`` validators; node i listens on ports[i] and the lower index of each pair dials."""

    def __init__(self, size: int) -> None:
        self.tls = ClusterPki(size)
        self.keys = [PrivateKey.from_secret(7_000 + index) for index in range(size)]
        self.validator_keys = [key.public_key.data for key in self.keys]
        self.sockets = [bind_socket() for _ in range(size)]
        self.ports = [sock.getsockname()[1] for sock in self.sockets]
        self.nodes: dict[int, Node] = {}
        self.extra_runners: list[web.AppRunner] = []
        self.extra_networks: list[PeerNetwork] = []
        # How long a node's runner waits at cleanup for connections still open: short, so that a
        # test's teardown is quick; a test of that wait makes it long enough to tell apart.
        self.shutdown_timeout_s = 1.0

    def get_urls(self, index: int) -> dict[int, str]:
        return {peer: f"wss://127.0.0.1:{port}/p2p" for peer, port in enumerate(self.ports) if peer != index}

    async def start_node(
        self,
        index: int,
        settings: P2PSettings = FAST,
        on_request: Callable[[int, bytes], Awaitable[bytes]] | None = echo_request,
        peer_urls: Mapping[int, str] | None = None,
    ) -> Node:
        received: list[tuple[int, bytes]] = []
        network = PeerNetwork(
            chain_id=CHAIN_ID,
            validator_keys=self.validator_keys,
            self_index=index,
            key=self.keys[index],
            peer_urls=self.get_urls(index) if peer_urls is None else peer_urls,
            on_message=lambda peer, payload: received.append((peer, payload)),
            on_request=on_request,
            settings=settings,
            tls=self.tls.peer_tls(Identity(Role.HUB, hub_name(index))),
        )
        runner = await serve(network, self.sockets[index], self.shutdown_timeout_s)
        await network.start()
        node = Node(index, network, runner, received)
        self.nodes[index] = node
        return node

    async def start_all(self, settings: P2PSettings = FAST) -> list[Node]:
        nodes = [await self.start_node(index, settings) for index in range(len(self.keys))]
        await self.wait_all_connected()
        return nodes

    async def wait_all_connected(self) -> None:
        for index, node in self.nodes.items():
            others = sorted(set(self.nodes) - {index})
            await wait_until(_is_linked_to(node, others), f"node {index} linked to {others}")

    async def stop_node(self, index: int) -> None:
        node = self.nodes.pop(index)
        await node.network.stop()
        await node.runner.cleanup()
        # The port must stay ours for a restart: bind a fresh listening socket to it.
        self.sockets[index] = bind_socket(self.ports[index])

    async def start_stranger(
        self,
        *,
        key: PrivateKey,
        validator_keys: Sequence[bytes],
        self_index: int,
        peer_urls: Mapping[int, str],
        chain_id: str = CHAIN_ID,
        sock: socket.socket | None = None,
        tls: PeerTls | None = None,
    ) -> PeerNetwork:
        """A PeerNetwork outside the cluster's genesis (an impostor), listening on ``sock`` if given.
        It holds the TLS certificate of the hub whose index it claims unless ``tls`` says otherwise."""
        if tls is None:
            hub_names = [hub_name(index) for index in range(len(validator_keys))]
            identity = Identity(Role.HUB, hub_name(self_index))
            files = self.tls.files(identity)
            if not files.certificate_file.exists():  # a hub outside the cluster, certified by its CA
                files = self.tls.issue(identity)
            tls = PeerTls.load(files, hub_names)
        network = PeerNetwork(
            chain_id=chain_id, validator_keys=validator_keys, self_index=self_index, key=key,
            peer_urls=peer_urls, on_message=lambda peer, payload: None, settings=FAST, tls=tls,
        )
        self.extra_networks.append(network)
        if sock is not None:
            self.extra_runners.append(await serve(network, sock))
        await network.start()
        return network

    async def close(self) -> None:
        for index in list(self.nodes):
            await self.stop_node(index)
        for network in self.extra_networks:
            await network.stop()
        for runner in self.extra_runners:
            await runner.cleanup()
        for sock in self.sockets:
            sock.close()
        self.tls.close()


async def serve(network: PeerNetwork, sock: socket.socket, shutdown_timeout_s: float = 1.0) -> web.AppRunner:
    """Serve ``network``'s /p2p on ``sock`` over TLS, counting refused handshakes as the node does."""
    app = web.Application()
    network.add_routes(app)
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=shutdown_timeout_s)
    await runner.setup()
    context: ssl.SSLContext | None = None
    if network.tls is not None:
        context = network.tls.server_context
        count_refusals(context, "p2p", network.count_refusal)
    await web.SockSite(runner, sock, ssl_context=context).start()
    return runner


def _is_linked_to(node: Node, peers: list[int]) -> Callable[[], bool]:
    return lambda: node.network.connected_peers() == peers
