"""Peer links are mutual TLS bound to the validator handshake: each half of an identity alone fails.

A stolen TLS certificate without the validator key cannot sign the handshake;
a validator key with another party's certificate fails the identity check; a
certificate of another CA, or no TLS at all, is refused at the TLS handshake.
Each refusal is counted by reason, and the cluster's own links stay up.
"""

from __future__ import annotations

from collections.abc import Callable

import aiohttp
import pytest

from ledger.keys import PrivateKey
from ledger.tls_identity import Identity, Role
from p2p import PeerNetwork
from tests.integration.p2p.cluster import Cluster, ClusterPki, hub_name
from tests.waiting import wait_until


def get_refused(network: PeerNetwork) -> dict[str, int]:
    refused = network.get_stats()["handshakes_refused"]
    assert isinstance(refused, dict)
    return refused


async def wait_refused(network: PeerNetwork, reason: str, what: str) -> None:
    await wait_until(lambda: get_refused(network).get(reason, 0) >= 1, what)


async def assert_cluster_intact(cluster: Cluster) -> None:
    """Every genuine link is up and delivers."""
    await cluster.wait_all_connected()
    cluster.nodes[0].network.send(1, b"genuine")
    await wait_until(lambda: b"genuine" in cluster.nodes[1].payloads_from(0), "a genuine payload")


async def test_a_stolen_tls_certificate_without_the_validator_key_is_refused(
    make_cluster: Callable[[int], Cluster],
) -> None:
    cluster = make_cluster(4)
    nodes = await cluster.start_all()
    outsider = PrivateKey.from_secret(31_337)
    # Hub 0's real TLS certificate and key, but a validator key that is not validator 0's.
    thief = await cluster.start_stranger(
        key=outsider,
        validator_keys=[outsider.public_key.data, *cluster.validator_keys[1:]],
        self_index=0,
        peer_urls={1: cluster.get_urls(0)[1]},
        tls=cluster.tls.peer_tls(Identity(Role.HUB, hub_name(0))),
    )
    thief.broadcast(b"forged")
    await wait_refused(nodes[1].network, "bad_signature", "node 1 refusing hub 0's certificate, no key")
    assert thief.connected_peers() == []
    assert b"forged" not in nodes[1].payloads_from(0)
    await assert_cluster_intact(cluster)


@pytest.mark.parametrize("holder", [Identity(Role.HUB, hub_name(2)), Identity(Role.BANK, hub_name(0))])
async def test_a_validator_key_without_its_hubs_certificate_is_refused(
    make_cluster: Callable[[int], Cluster], holder: Identity
) -> None:
    cluster = make_cluster(4)
    nodes = await cluster.start_all()
    # Validator 0's real key, presented over a certificate of the network that names someone else.
    files = cluster.tls.files(holder) if holder.role is Role.HUB else cluster.tls.issue(holder)
    tls = cluster.tls.peer_tls(Identity(Role.HUB, hub_name(0)))
    tls = type(tls).load(files, tls.hub_names)
    impostor = await cluster.start_stranger(
        key=cluster.keys[0],
        validator_keys=cluster.validator_keys,
        self_index=0,
        peer_urls={1: cluster.get_urls(0)[1]},
        tls=tls,
    )
    await wait_refused(nodes[1].network, "tls_identity", f"node 1 refusing validator 0's key over {holder}")
    assert impostor.connected_peers() == []
    await assert_cluster_intact(cluster)


async def test_a_certificate_of_another_ca_is_refused_at_the_tls_handshake(
    make_cluster: Callable[[int], Cluster],
) -> None:
    cluster = make_cluster(4)
    nodes = await cluster.start_all()
    elsewhere = ClusterPki(4)  # the same hub names, certified by a CA the cluster does not trust
    try:
        tls = elsewhere.peer_tls(Identity(Role.HUB, hub_name(0)))
        # It knows our CA certificate (that is public), so it goes on to present its own.
        layout = cluster.tls.pki.layout
        for public_file in (layout.ca_certificate, layout.crl):
            tls.client_context.load_verify_locations(public_file)
        stranger = await cluster.start_stranger(
            key=cluster.keys[0],
            validator_keys=cluster.validator_keys,
            self_index=0,
            peer_urls={1: cluster.get_urls(0)[1]},
            tls=tls,
        )
        await wait_refused(nodes[1].network, "tls_unknown_ca", "node 1 refusing a foreign CA's certificate")
        assert stranger.connected_peers() == []
        await assert_cluster_intact(cluster)
    finally:
        elsewhere.close()


async def test_a_dialler_refuses_a_listener_with_a_certificate_of_another_ca(
    make_cluster: Callable[[int], Cluster],
) -> None:
    cluster = make_cluster(2)
    elsewhere = ClusterPki(2)
    try:
        # Something listens where validator 1 should be, with validator 1's key but a foreign certificate.
        await cluster.start_stranger(
            key=cluster.keys[1],
            validator_keys=cluster.validator_keys,
            self_index=1,
            peer_urls={},
            sock=cluster.sockets[1],
            tls=elsewhere.peer_tls(Identity(Role.HUB, hub_name(1))),
        )
        node = await cluster.start_node(0)
        await wait_refused(node.network, "outbound_tls_unknown_ca", "node 0 refusing the foreign certificate")
        assert node.network.connected_peers() == []
    finally:
        elsewhere.close()


async def test_a_plaintext_connection_is_refused_at_the_tls_handshake(
    make_cluster: Callable[[int], Cluster],
) -> None:
    cluster = make_cluster(4)
    nodes = await cluster.start_all()
    plain_url = cluster.get_urls(0)[1].replace("wss://", "ws://")
    async with aiohttp.ClientSession() as session:
        with pytest.raises(aiohttp.ClientError):
            async with session.ws_connect(plain_url):
                pass
    await wait_refused(nodes[1].network, "tls_plaintext", "node 1 counting the plaintext connection")
    await assert_cluster_intact(cluster)
