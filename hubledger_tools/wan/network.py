"""A generated network laid out over namespaces and relays: what tests and the bench start nodes in.

``WanNetwork.create`` makes a namespace per hub, generates the network with
``netgen`` (each hub listening on its namespace address, dialling its peers
at their relay addresses, with the WAN consensus timeouts of delays.py) and
starts the relay process. The delays are netem's where the kernel has it
(netem.py), else the relay's (relay.py); ``delay_by`` says which. Node
processes are the caller's: ``exec_prefix`` is what to put before the
node's command line, and ``urls`` are the client API addresses (https), read
back from the generated configs; the network's CA (``ca_file``) is trusted by
hubledger_tools.trust, so the tools' requests check the hubs against it.
``close`` stops the relay and removes the namespaces; call it in a ``finally``.
"""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from hubledger_tools.netgen import NetworkLayout, generate_network
from hubledger_tools.trust import trust_network
from hubledger_tools.wan.delays import JITTER_MS, WAN_CONSENSUS, get_round_trip_ms, validate_cities
from hubledger_tools.wan.namespaces import HubNamespace, create_namespaces, has_netem, remove
from hubledger_tools.wan.netem import apply_commands, build_commands, compute_netem_leaf
from hubledger_tools.wan.relay import Listener, RelaySpec
from ledger.genesis import Genesis
from node.config import load_config
from node.config_sections import NodeConfig

# Each hub has a namespace of its own, so every hub uses the same ports in it
# (as one container per hub does); nothing else listens there.
API_PORT = 8101
P2P_PORT = 9101
RELAY_READY_TIMEOUT_S = 20.0


class RelayError(RuntimeError):
    """Raised when the relay process does not start or refuses a command."""


@dataclass
class WanNetwork:
    directory: Path
    genesis: Genesis
    spaces: dict[str, HubNamespace]
    urls: dict[str, str]  # hub -> client API URL, as the generated config says
    ca_file: Path  # the network's CA certificate, which the hubs' API certificates chain to
    delay_by: str  # "netem" where the kernel has it, else "relay" (the relay's own timers)
    relay: subprocess.Popen[str] | None = None

    @classmethod
    def create(cls, hubs: list[str], directory: Path, *, chain_id: str = "hubledger-wan") -> WanNetwork:
        validate_cities(hubs)
        spaces = {space.hub: space for space in create_namespaces(hubs)}
        try:
            layout = NetworkLayout(
                api_port_base=API_PORT,
                p2p_port_base=P2P_PORT,
                fixed_ports=True,
                hub_hosts={hub: space.hub_address for hub, space in spaces.items()},
                peer_hosts={hub: space.root_address for hub, space in spaces.items()},
                consensus=WAN_CONSENSUS,
            )
            genesis = generate_network(hubs, directory, chain_id=chain_id, layout=layout)
            configs = {hub: load_config(directory / f"{hub}.toml", environ={}) for hub in hubs}
            urls = {hub: get_api_url(config) for hub, config in configs.items()}
            ca_file = trust_network(directory)
            delay_by = "netem" if has_netem() else "relay"
            if delay_by == "netem":
                _add_netem(spaces)
            network = cls(directory, genesis, spaces, urls, ca_file, delay_by)
            network.relay = _start_relay(
                directory, _relay_spec(spaces, configs, with_netem=delay_by == "netem")
            )
        except BaseException:
            remove(list(spaces.values()))
            raise
        return network

    def exec_prefix(self, hub: str) -> list[str]:
        return self.spaces[hub].exec_prefix()

    def cut(self, first: str, second: str) -> None:
        self._command(f"cut {first} {second}")

    def isolate(self, hub: str) -> None:
        """Cut every link of ``hub``."""
        for other in self.spaces:
            if other != hub:
                self.cut(hub, other)

    def heal(self) -> None:
        self._command("heal")

    def close(self) -> None:
        """Stop the relay and remove the namespaces; never raises."""
        if self.relay is not None and self.relay.poll() is None:
            if self.relay.stdin is not None:
                self.relay.stdin.close()  # the relay stops when its commands end
            try:
                self.relay.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.relay.kill()
                self.relay.wait()
        remove(list(self.spaces.values()))

    def _command(self, line: str) -> None:
        relay = self.relay
        if relay is None or relay.stdin is None or relay.stdout is None or relay.poll() is not None:
            raise RelayError("the relay is not running")
        relay.stdin.write(line + "\n")
        relay.stdin.flush()
        answer = relay.stdout.readline().strip()
        if answer != "ok":
            raise RelayError(f"the relay answered {line!r} with {answer!r}")


def get_api_url(config: NodeConfig) -> str:
    """The client API URL a hub's config describes: https unless it says ``[tls] api_plaintext``."""
    scheme = "http" if config.tls.api_plaintext else "https"
    return f"{scheme}://{config.api.host}:{config.api.port}"


def _relay_spec(
    spaces: dict[str, HubNamespace], configs: dict[str, NodeConfig], *, with_netem: bool
) -> RelaySpec:
    """A listener per hub where its peers dial it, onward to where it listens (both from the configs)."""
    listeners = []
    for hub in spaces:
        dialler = next(config for name, config in configs.items() if name != hub)
        dialled = urlsplit(dialler.p2p.peers[hub])
        if dialled.hostname is None or dialled.port is None:
            raise RelayError(f"{dialler.node.name}'s config gives no host and port for {hub}")
        own = configs[hub].p2p
        listeners.append(Listener(hub, (dialled.hostname, dialled.port), (own.host, own.port)))
    one_way_ms = {
        f"{first}>{second}": get_round_trip_ms(first, second) // 2
        for first in spaces
        for second in spaces
        if first != second
    }
    sources = {space.hub_address: hub for hub, space in spaces.items()}
    dial_from = {hub: space.root_address for hub, space in spaces.items()}
    if with_netem:  # the kernel delays; the relay only forwards, cuts and heals
        return RelaySpec(tuple(listeners), sources, dict.fromkeys(one_way_ms, 0), 0, os.getpid(), dial_from)
    return RelaySpec(tuple(listeners), sources, one_way_ms, JITTER_MS, os.getpid(), dial_from)


def _add_netem(spaces: dict[str, HubNamespace]) -> None:
    """Each hub's inbound delays as netem leaves on the root end of its veth pair (netem.py)."""
    for hub, space in spaces.items():
        senders = {
            other: (peer.root_address, compute_netem_leaf(get_round_trip_ms(hub, other) // 2, JITTER_MS))
            for other, peer in spaces.items()
            if other != hub
        }
        apply_commands(build_commands(space, senders))


def _start_relay(directory: Path, spec: RelaySpec) -> subprocess.Popen[str]:
    spec_path = directory / "relay.json"
    spec_path.write_text(spec.to_json())
    relay = subprocess.Popen(
        [sys.executable, "-m", "hubledger_tools.wan.relay", str(spec_path)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=(directory / "relay.log").open("ab"),
        text=True,
    )
    # The relay says "ready" once it listens (stdout is a pipe: Popen was asked for one).
    first_line = relay.stdout.readline().strip() if relay.stdout is not None else ""
    if first_line != "ready":
        relay.kill()
        relay.wait()
        log = (directory / "relay.log").read_text(errors="replace")[-2000:]
        raise RelayError(f"the relay did not start: {first_line!r}\n{log}")
    return relay
