"""One Linux network namespace per hub, joined to the root namespace by a veth pair.

Theory of operation. Hub *i* gets the namespace ``hubledger-<pid>-<hub>``
and a veth pair: one end in its namespace with the hub's address, the other in
the root namespace with the address its peers dial (where the relay listens
for it). Both come from one /30 of the benchmarking range 198.18.0.0/15
(RFC 2544), in a /28 chosen from the process id and checked against every
address already on the machine, so that two runs at once never share a
name or an address. The hub's namespace routes everything through the root
end, so it reaches the relays of the other hubs and nothing else is needed.

Everything made is removed by ``remove``, also after a failure halfway; a
run that died before removing its namespaces leaves names with a dead pid,
and the next run removes them (``remove_orphans``).
"""

from __future__ import annotations

import ipaddress
import os
import re
import shutil
import subprocess
from dataclasses import dataclass

RANGE = ipaddress.IPv4Network("198.18.0.0/15")
BLOCK_PREFIX = 28  # four /30s: one per hub
PREFIX = "hubledger"
NAME_PATTERN = re.compile(rf"^{PREFIX}-(\d+)-[a-z0-9-]+$")
COMMAND_TIMEOUT_S = 20.0


class NamespaceError(RuntimeError):
    """Raised when the namespaces, veth pairs or addresses cannot be made."""


@dataclass(frozen=True)
class HubNamespace:
    hub: str
    name: str  # the namespace
    hub_address: str  # inside the namespace: the hub listens here
    root_address: str  # the root end of its veth pair: its peers dial it here
    root_device: str

    def exec_prefix(self) -> list[str]:
        """What to put before a command to run it inside this namespace."""
        return ["ip", "netns", "exec", self.name]


def get_unavailable_reason() -> str | None:
    """Why this machine cannot make network namespaces and veth pairs, or None when it can."""
    if os.geteuid() != 0:
        return "making network namespaces needs root"
    if shutil.which("ip") is None:
        return "the ip command (iproute2) is not installed"
    probe = f"{PREFIX}-{os.getpid()}-probe"
    device = f"hlp{os.getpid()}"
    try:
        _run("ip", "netns", "add", probe)
        _run("ip", "link", "add", device, "type", "veth", "peer", "name", device + "h", "netns", probe)
    except NamespaceError as error:
        return f"ip netns or veth pairs do not work here: {error}"
    finally:
        _run_quietly("ip", "link", "del", device)
        _run_quietly("ip", "netns", "del", probe)
    return None


def has_netem() -> bool:
    """Whether the kernel has the netem queueing discipline (tried on a probe namespace's lo)."""
    if shutil.which("tc") is None:
        return False
    probe = f"{PREFIX}-{os.getpid()}-netem"
    try:
        _run("ip", "netns", "add", probe)
        _run("ip", "-n", probe, "link", "set", "lo", "up")
        _run("tc", "-n", probe, "qdisc", "add", "dev", "lo", "root", "netem", "delay", "1ms")
    except NamespaceError:
        return False
    finally:
        _run_quietly("ip", "netns", "del", probe)
    return True


def create_namespaces(hubs: list[str]) -> list[HubNamespace]:
    """A namespace and veth pair for each hub; all removed again if any step fails."""
    remove_orphans()
    block = _choose_block()
    subnets = list(block.subnets(new_prefix=30))
    made: list[HubNamespace] = []
    try:
        for index, hub in enumerate(hubs):
            root_address, hub_address = (str(host) for host in subnets[index].hosts())
            space = HubNamespace(
                hub, f"{PREFIX}-{os.getpid()}-{hub}", hub_address, root_address, f"hlw{os.getpid()}{index}"
            )
            made.append(space)
            _make(space)
    except BaseException:
        remove(made)
        raise
    return made


def _make(space: HubNamespace) -> None:
    inner = space.root_device + "h"
    _run("ip", "netns", "add", space.name)
    _run("ip", "link", "add", space.root_device, "type", "veth", "peer", "name", inner, "netns", space.name)
    _run("ip", "addr", "add", f"{space.root_address}/30", "dev", space.root_device)
    _run("ip", "link", "set", space.root_device, "up")
    _run("ip", "-n", space.name, "addr", "add", f"{space.hub_address}/30", "dev", inner)
    _run("ip", "-n", space.name, "link", "set", inner, "up")
    _run("ip", "-n", space.name, "link", "set", "lo", "up")
    _run("ip", "-n", space.name, "route", "add", "default", "via", space.root_address)


def remove(spaces: list[HubNamespace]) -> None:
    """Remove the namespaces (their veth pairs go with them); never raises."""
    for space in spaces:
        _run_quietly("ip", "link", "del", space.root_device)
        _run_quietly("ip", "netns", "del", space.name)


def remove_orphans() -> None:
    """Remove namespaces left by runs whose process is gone."""
    listing = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True, check=False)
    for line in listing.stdout.splitlines():
        name = line.split()[0] if line.split() else ""
        match = NAME_PATTERN.match(name)
        if match and not _is_alive(int(match.group(1))):
            _run_quietly("ip", "netns", "del", name)


def _is_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _choose_block() -> ipaddress.IPv4Network:
    """A /28 of RANGE that no address or route on this machine touches, starting from the pid's."""
    blocks: list[ipaddress.IPv4Network] = list(RANGE.subnets(new_prefix=BLOCK_PREFIX))
    taken = _networks_in_use()
    start = os.getpid() % len(blocks)
    for offset in range(len(blocks)):
        block = blocks[(start + offset) % len(blocks)]
        if not any(block.overlaps(network) for network in taken):
            return block
    raise NamespaceError(f"every /{BLOCK_PREFIX} of {RANGE} is in use on this machine")


def _networks_in_use() -> list[ipaddress.IPv4Network]:
    shown = subprocess.run(["ip", "-o", "-4", "addr", "show"], capture_output=True, text=True, check=False)
    routes = subprocess.run(["ip", "-4", "route", "show"], capture_output=True, text=True, check=False)
    found = re.findall(r"inet (\d+\.\d+\.\d+\.\d+/\d+)", shown.stdout)
    found += re.findall(r"^(\d+\.\d+\.\d+\.\d+/\d+)", routes.stdout, flags=re.MULTILINE)
    return [ipaddress.IPv4Network(text, strict=False) for text in found]


def _run(*command: str) -> None:
    result = subprocess.run(command, capture_output=True, text=True, timeout=COMMAND_TIMEOUT_S, check=False)
    if result.returncode != 0:
        raise NamespaceError(f"`{' '.join(command)}` failed: {result.stderr.strip()}")


def _run_quietly(*command: str) -> None:
    subprocess.run(command, capture_output=True, timeout=COMMAND_TIMEOUT_S, check=False)
