"""The tc tree that holds netem's delays sends each hub's packets to its own class. This
kernel may lack netem, so the tree is built with plain pfifo leaves: what is checked is
the classification by the sender's relay address, which netem's leaves then delay."""

from __future__ import annotations

import re
import socket
import subprocess
from collections.abc import Iterator

import pytest

from hubledger_tools.wan.namespaces import HubNamespace, create_namespaces, get_unavailable_reason, remove
from hubledger_tools.wan.netem import apply_commands, build_commands

FRAMING_BYTES = 8 + 20 + 14
DISCARD_PORT = 9  # nothing listens: the datagram only has to leave through the tree


@pytest.fixture
def spaces() -> Iterator[dict[str, HubNamespace]]:
    reason = get_unavailable_reason()
    if reason is not None:
        pytest.skip(f"no network namespaces on this machine: {reason}")
    made = create_namespaces(["beijing", "shanghai", "hangzhou"])
    try:
        yield {space.hub: space for space in made}
    finally:
        remove(made)


def _sent_bytes(device: str) -> dict[str, int]:
    shown = subprocess.run(["tc", "-s", "class", "show", "dev", device], capture_output=True, text=True)
    found = re.findall(r"class htb (1:\d+) .*?Sent (\d+) bytes", shown.stdout, flags=re.DOTALL)
    return {classid: int(sent) for classid, sent in found}


def _send_from(source: str, destination: str, size: int) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sender:
        sender.bind((source, 0))
        sender.sendto(b"x" * size, (destination, DISCARD_PORT))


def test_packets_from_each_peer_take_that_peers_class_and_the_rest_go_undelayed(
    spaces: dict[str, HubNamespace],
) -> None:
    receiver = spaces["beijing"]
    peers = {hub: (spaces[hub].root_address, ["pfifo"]) for hub in ("shanghai", "hangzhou")}
    apply_commands(build_commands(receiver, peers))
    _send_from(spaces["shanghai"].root_address, receiver.hub_address, 700)
    _send_from(spaces["hangzhou"].root_address, receiver.hub_address, 300)
    _send_from(receiver.root_address, receiver.hub_address, 100)  # the client API's way in
    sent = _sent_bytes(receiver.root_device)
    # Each datagram is sent as one frame: the payload, 8 bytes of UDP, 20 of IP, 14 of Ethernet.
    assert (sent["1:2"], sent["1:3"]) == (700 + FRAMING_BYTES, 300 + FRAMING_BYTES), sent
    assert sent["1:1"] >= 100 + FRAMING_BYTES, sent  # with whatever else the link carried (ARP)
