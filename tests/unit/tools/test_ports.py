"""Port ranges for local networks: free, consecutive, and never among the kernel's ephemeral ports."""

import random
import socket

import pytest

from hubledger_tools import ports


def test_a_range_is_free_and_below_the_ephemeral_ports() -> None:
    base = ports.find_port_base(8, rng=random.Random(7))
    assert base >= ports.LOWEST_PORT and base + 8 <= ports.get_ephemeral_first()
    for port in range(base, base + 8):
        with socket.socket() as listener:
            listener.bind(("127.0.0.1", port))


def test_a_taken_port_is_never_part_of_the_range(monkeypatch: pytest.MonkeyPatch) -> None:
    taken = ports.LOWEST_PORT + 10
    monkeypatch.setattr(ports, "get_ephemeral_first", lambda: ports.LOWEST_PORT + 40)
    monkeypatch.setattr(ports, "is_port_free", lambda port: port != taken)
    for seed in range(50):
        base = ports.find_port_base(4, rng=random.Random(seed))
        assert not base <= taken < base + 4


def test_no_room_below_the_ephemeral_ports_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ports, "get_ephemeral_first", lambda: ports.LOWEST_PORT + 3)
    with pytest.raises(ports.NoFreePortsError, match="below the ephemeral range"):
        ports.find_port_base(4)
