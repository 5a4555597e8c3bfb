"""The inter-city delays in the kernel, with netem, where the kernel has it.

Theory of operation. Every byte between two hubs crosses the relay
(relay.py), which forwards a connection from hub A to hub B from A's relay
address (the root end of A's veth pair). So each direction of a link leaves
the root namespace once, on the root end of the receiving hub's veth pair,
with the sending hub's relay address as its source. On the root end of each
hub's pair an ``htb`` qdisc (with a rate far above any link's, so it only
classifies) sends packets by their source address to one class per peer,
whose ``netem`` leaf holds them for that pair's one-way delay and jitter;
everything else (the client API's traffic) takes class 1:1, undelayed.
The relay then adds no delay of its own and only cuts and heals links.

``build_commands`` takes the leaf as an argument, so the same tree can be
built with a plain ``pfifo`` leaf on a kernel without netem (which is how
tests check the commands themselves).
"""

from __future__ import annotations

import subprocess

from hubledger_tools.wan.namespaces import COMMAND_TIMEOUT_S, HubNamespace, NamespaceError

CLASS = ["htb", "rate", "10gbit", "quantum", "60000"]  # classifies only: never the bottleneck


def compute_netem_leaf(one_way_ms: int, jitter_ms: int) -> list[str]:
    return ["netem", "delay", f"{one_way_ms}ms", f"{jitter_ms}ms"]


def build_commands(receiver: HubNamespace, senders: dict[str, tuple[str, list[str]]]) -> list[list[str]]:
    """The tc commands for the root end of ``receiver``'s veth pair: for each sending hub,
    its relay address and the leaf qdisc that delays what it sends to ``receiver``."""
    device = receiver.root_device
    commands = [
        ["tc", "qdisc", "replace", "dev", device, "root", "handle", "1:", "htb", "default", "1"],
        ["tc", "class", "add", "dev", device, "parent", "1:", "classid", "1:1", *CLASS],
    ]
    for band, (source_address, leaf) in enumerate(senders.values(), start=2):
        commands += [
            ["tc", "class", "add", "dev", device, "parent", "1:", "classid", f"1:{band}", *CLASS],
            ["tc", "qdisc", "add", "dev", device, "parent", f"1:{band}", "handle", f"{band}0:", *leaf],
            ["tc", "filter", "add", "dev", device, "parent", "1:", "protocol", "ip", "prio", "1",
             "u32", "match", "ip", "src", f"{source_address}/32", "flowid", f"1:{band}"],
        ]  # fmt: skip
    return commands


def apply_commands(commands: list[list[str]]) -> None:
    for command in commands:
        result = subprocess.run(
            command, capture_output=True, text=True, timeout=COMMAND_TIMEOUT_S, check=False
        )
        if result.returncode != 0:
            raise NamespaceError(f"`{' '.join(command)}` failed: {result.stderr.strip()}")
