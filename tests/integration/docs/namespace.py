"""A network namespace of this test's own, entered by the test's thread: in it 127.0.0.1
has every port free, so a localnet can listen where the documentation says (8101..8104,
9101..9104) without meeting anyone else's, and the documented commands run unchanged."""

from __future__ import annotations

import ctypes
import os
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager

CLONE_NEWNET = 0x40000000


def get_namespace_problem() -> str | None:
    """Why this process cannot make a network namespace, or None."""
    if os.geteuid() != 0:
        return "making a network namespace needs root"
    if shutil.which("ip") is None:
        return "making a network namespace needs iproute2's ip"
    return None


@contextmanager
def own_network_namespace(name: str) -> Iterator[None]:
    """Create ``name`` (unique: include the pid), bring its loopback up and move the calling
    thread into it, with every process it starts; restore and delete it on the way out."""
    subprocess.run(["ip", "netns", "add", name], check=True, capture_output=True)
    try:
        subprocess.run(["ip", "-n", name, "link", "set", "lo", "up"], check=True, capture_output=True)
        original = os.open("/proc/thread-self/ns/net", os.O_RDONLY)
        target = os.open(f"/var/run/netns/{name}", os.O_RDONLY)
        try:
            _set_namespace(target)
            try:
                yield
            finally:
                _set_namespace(original)
        finally:
            os.close(target)
            os.close(original)
    finally:
        subprocess.run(["ip", "netns", "delete", name], check=False, capture_output=True)


def _set_namespace(descriptor: int) -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.setns(descriptor, CLONE_NEWNET) != 0:
        error = ctypes.get_errno()
        raise OSError(error, f"setns: {os.strerror(error)}")
