"""Impossible settings and constructor arguments fail at once, with a sentence saying which."""

from __future__ import annotations

import pytest

from ledger.keys import PrivateKey
from p2p import P2PSettings, PayloadTooLarge, PeerNetwork, PeerUnavailable, SettingsInvalid
from p2p.guard import HandshakeSlots

KEYS = [PrivateKey.from_secret(300 + index) for index in range(4)]
VALIDATOR_KEYS = [key.public_key.data for key in KEYS]


def make_network(**overrides: object) -> PeerNetwork:
    arguments: dict[str, object] = {
        "chain_id": "test",
        "validator_keys": VALIDATOR_KEYS,
        "self_index": 1,
        "key": KEYS[1],
        "peer_urls": {2: "ws://127.0.0.1:1/p2p"},
        "on_message": lambda peer, payload: None,
        "settings": P2PSettings(message_bytes_max=100),
    }
    arguments.update(overrides)
    return PeerNetwork(**arguments)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "changes",
    [
        {"message_bytes_max": 0},
        {"send_queue_max": -1},
        {"faults_max": -1},
        {"reconnect_initial_ms": 500, "reconnect_max_ms": 100},
    ],
)
def test_impossible_settings_are_refused(changes: dict[str, int]) -> None:
    with pytest.raises(SettingsInvalid):
        P2PSettings(**changes)


@pytest.mark.parametrize(
    ("overrides", "words"),
    [
        ({"key": KEYS[2]}, "not the key of validator 1"),
        ({"self_index": 4}, "not one of 4 validators"),
        ({"peer_urls": {1: "ws://x/p2p"}}, "not another validator"),
        ({"peer_urls": {7: "ws://x/p2p"}}, "not another validator"),
    ],
)
def test_inconsistent_arguments_are_refused(overrides: dict[str, object], words: str) -> None:
    with pytest.raises(SettingsInvalid, match=words):
        make_network(**overrides)


async def test_payload_limits_and_unknown_peers() -> None:
    network = make_network()
    with pytest.raises(PayloadTooLarge):
        network.send(2, b"x" * 101)
    with pytest.raises(PayloadTooLarge):
        network.broadcast(b"x" * 101)
    with pytest.raises(PeerUnavailable):
        network.send(1, b"to myself")
    network.send(3, b"queued for later")  # no link yet: it waits in the bounded queue
    stats = network.get_stats()["peers"]
    assert stats[3]["queued"] == 1 and stats[3]["connected"] is False  # type: ignore[index]


def test_handshake_slots_are_limited_in_all_and_per_address() -> None:
    slots = HandshakeSlots(pending_max=3, per_address_max=2)
    slots.take("10.0.0.1")
    slots.take("10.0.0.1")
    assert slots.get_refusal("10.0.0.1") == "too_many_handshakes_from_address"
    assert slots.get_refusal("10.0.0.2") is None
    slots.take("10.0.0.2")
    assert slots.get_refusal("10.0.0.3") == "too_many_handshakes"
    slots.release("10.0.0.1")
    assert slots.get_refusal("10.0.0.1") is None
    assert slots.pending == 2


def test_more_handshakes_per_address_than_in_all_is_refused() -> None:
    with pytest.raises(SettingsInvalid, match="handshakes_per_address_max"):
        P2PSettings(handshakes_pending_max=4, handshakes_per_address_max=5)
