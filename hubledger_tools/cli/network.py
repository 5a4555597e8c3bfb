"""``hubledger netgen``, ``node`` and ``localnet``: make a network and run its nodes."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from hubledger_tools.bundles import API_PORT, P2P_PORT, parse_hosts, write_bundles
from hubledger_tools.netgen import NetworkLayout, describe_tls, generate_network, parse_hubs
from node.errors import ConfigError

HUBS_DEFAULT = "beijing,shanghai,shenzhen,hangzhou"


def add_network_commands(commands: Any) -> None:
    netgen = commands.add_parser("netgen", help="generate keys, genesis and node configs for a network")
    netgen.add_argument("--hubs", default=HUBS_DEFAULT, help="comma-separated hub names")
    netgen.add_argument("--out", type=Path, required=True, help="new directory to write the network into")
    netgen.add_argument("--chain-id", default="hubledger-local")
    netgen.add_argument("--api-port-base", type=int, default=8101)
    netgen.add_argument("--p2p-port-base", type=int, default=9101)
    netgen.add_argument(
        "--compose", action="store_true", help="one container per hub: fixed ports, peers by hub name"
    )
    netgen.add_argument(
        "--host",
        action="append",
        default=[],
        metavar="HUB=ADDRESS",
        help="one hub per host: that hub's DNS name or IP address (give one for every hub); "
        "also writes bundles/<hub>/ to carry to each host",
    )
    netgen.set_defaults(handler=_netgen)

    node = commands.add_parser("node", help="run one validator node")
    node.add_argument("--config", type=Path, required=True, help="the node's TOML config file")
    node.set_defaults(handler=_node)

    localnet = commands.add_parser("localnet", help="run a local network, one process per hub")
    localnet.add_argument("--hubs", default=HUBS_DEFAULT)
    localnet.add_argument("--dir", type=Path, default=Path(".localnet"))
    localnet.set_defaults(handler=_localnet)


def _netgen(arguments: argparse.Namespace) -> int:
    layout = NetworkLayout(api_port_base=arguments.api_port_base, p2p_port_base=arguments.p2p_port_base)
    if arguments.compose:
        layout = NetworkLayout(
            api_host="0.0.0.0",  # inside a container, reached through a published port
            p2p_host="0.0.0.0",
            peer_host_template="{hub}",
            fixed_ports=True,
            api_port_base=8000,
            p2p_port_base=9000,
        )
    hubs = parse_hubs(arguments.hubs)
    if arguments.host:
        if arguments.compose:
            raise ConfigError("--host and --compose exclude each other: bundles carry a compose file each")
        layout = NetworkLayout(
            api_host="0.0.0.0",  # in the hub's container, reached through its host's published ports
            p2p_host="0.0.0.0",
            fixed_ports=True,
            api_port_base=API_PORT,
            p2p_port_base=P2P_PORT,
            peer_hosts=parse_hosts(arguments.host, hubs),
        )
    genesis = generate_network(hubs, arguments.out, chain_id=arguments.chain_id, layout=layout)
    print(f"wrote a {len(hubs)}-hub network for chain {genesis.chain_id} to {arguments.out}")
    for account in genesis.accounts:
        print(f"  {account.name:<18} {account.role:<13} {account.address.hex()}")
    print(describe_tls(arguments.out))
    if arguments.host:
        for bundle in write_bundles(arguments.out, hubs):
            print(f"  carry {bundle} to the {bundle.name} host")
    return 0


def _node(arguments: argparse.Namespace) -> int:
    from node.runner import run_node

    run_node(arguments.config)
    return 0


def _localnet(arguments: argparse.Namespace) -> int:
    from hubledger_tools.localnet import run_localnet

    return run_localnet(parse_hubs(arguments.hubs), arguments.dir)
