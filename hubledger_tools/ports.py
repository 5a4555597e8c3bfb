"""Free port ranges on 127.0.0.1 for the local networks that tests, the bench and chaos start.

The range is chosen below the kernel's ephemeral ports. A port that is free
when probed but lies in the ephemeral range can be taken a moment later as the
local end of some outgoing connection (any HTTP request on the machine), and
the node that then binds it fails with "address already in use". Ports below
that range are handed out only to those who ask for them by number.
"""

from __future__ import annotations

import random
import socket
from pathlib import Path

EPHEMERAL_RANGE_FILE = Path("/proc/sys/net/ipv4/ip_local_port_range")
EPHEMERAL_FIRST_DEFAULT = 32768  # Linux's default when the file cannot be read
LOWEST_PORT = 10_000
SEARCH_TRIES = 200


class NoFreePortsError(RuntimeError):
    """Raised when no run of free ports is found below the ephemeral range."""


def find_port_base(count: int, *, rng: random.Random | None = None) -> int:
    """A base port with ``count`` consecutive ports free on 127.0.0.1, all below the ephemeral range."""
    rng = rng or random.Random()
    highest_base = get_ephemeral_first() - count
    if highest_base <= LOWEST_PORT:
        raise NoFreePortsError(f"no room for {count} ports below the ephemeral range")
    for _ in range(SEARCH_TRIES):
        base = rng.randrange(LOWEST_PORT, highest_base)
        if all(is_port_free(base + offset) for offset in range(count)):
            return base
    raise NoFreePortsError(f"no {count} consecutive free ports found on 127.0.0.1")


def get_ephemeral_first() -> int:
    """The first port of the kernel's ephemeral range."""
    try:
        return int(EPHEMERAL_RANGE_FILE.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return EPHEMERAL_FIRST_DEFAULT


def is_port_free(port: int) -> bool:
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True
