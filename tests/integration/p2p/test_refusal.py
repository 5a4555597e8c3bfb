"""Nobody but a validator of this chain, proving its own index, gets a link or delivers a payload."""

from __future__ import annotations

from collections.abc import Callable

from ledger.keys import PrivateKey
from p2p import PeerNetwork
from tests.integration.p2p.cluster import Cluster
from tests.waiting import wait_until


def get_refused(network: PeerNetwork) -> dict[str, int]:
    refused = network.get_stats()["handshakes_refused"]
    assert isinstance(refused, dict)
    return refused


async def test_impostors_are_refused_and_deliver_nothing(make_cluster: Callable[[int], Cluster]) -> None:
    cluster = make_cluster(4)
    nodes = await cluster.start_all()
    target = nodes[1]
    target_url = {1: cluster.get_urls(0)[1]}
    outsider = PrivateKey.from_secret(99_999)

    # A key outside genesis claiming index 0.
    keys_with_outsider = [outsider.public_key.data, *cluster.validator_keys[1:]]
    impostors = [await cluster.start_stranger(
        key=outsider, validator_keys=keys_with_outsider, self_index=0, peer_urls=target_url)]
    # Validator 2's own key claiming index 0.
    keys_with_two_at_zero = [cluster.validator_keys[2], *cluster.validator_keys[1:]]
    impostors.append(await cluster.start_stranger(
        key=cluster.keys[2], validator_keys=keys_with_two_at_zero, self_index=0, peer_urls=target_url))
    # Validator 0's real key, for another chain.
    impostors.append(await cluster.start_stranger(
        key=cluster.keys[0], validator_keys=cluster.validator_keys, self_index=0, peer_urls=target_url,
        chain_id="some-other-chain"))
    # An index beyond the validator set: its own six-validator genesis, dialling "validator 5" at the target.
    fifth = PrivateKey.from_secret(5).public_key.data
    keys_of_six = [*cluster.validator_keys, outsider.public_key.data, fifth]
    impostors.append(await cluster.start_stranger(
        key=outsider, validator_keys=keys_of_six, self_index=4, peer_urls={5: target_url[1]}))
    for impostor in impostors:
        impostor.broadcast(b"forged commit")

    await wait_until(
        lambda: get_refused(target.network).get("bad_signature", 0) >= 2
        and get_refused(target.network).get("chain_id", 0) >= 1
        and get_refused(target.network).get("not_a_validator", 0) >= 1,
        "the target refusing every impostor",
    )
    assert all(payload != b"forged commit" for node in nodes for _, payload in node.received)
    assert all(impostor.connected_peers() == [] for impostor in impostors)
    # The genuine validator 0 keeps its link and still delivers.
    nodes[0].network.send(1, b"genuine")
    await wait_until(lambda: target.payloads_from(0) == [b"genuine"], "the genuine payload")
    assert target.network.connected_peers() == [0, 2, 3]


async def test_a_dialler_refuses_a_listener_that_is_not_the_validator_it_dialled(
    make_cluster: Callable[[int], Cluster],
) -> None:
    cluster = make_cluster(2)
    # Something listens where validator 1 should be, holding a key outside genesis.
    outsider = PrivateKey.from_secret(424_242)
    listener = await cluster.start_stranger(
        key=outsider, validator_keys=[cluster.validator_keys[0], outsider.public_key.data], self_index=1,
        peer_urls={}, sock=cluster.sockets[1],
    )
    node = await cluster.start_node(0)
    await wait_until(lambda: get_refused(node.network).get("bad_signature", 0) >= 1, "node 0 refusing it")
    assert node.network.connected_peers() == []
    listener.broadcast(b"forged")
    await wait_until(lambda: get_refused(node.network).get("bad_signature", 0) >= 2, "a second refusal")
    assert node.received == []
