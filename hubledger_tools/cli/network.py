"""``hubledger netgen``, ``node`` and ``localnet``: make a network and run its nodes."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from hubledger_tools.bundles import API_PORT, P2P_PORT, parse_hosts, write_bundles
from hubledger_tools.cli import arguments as types
from hubledger_tools.cli.common import add_json_argument, print_json
from hubledger_tools.cli.errors import UsageError
from hubledger_tools.netgen import NetworkLayout, describe_tls, generate_network, parse_hubs
from hubledger_tools.pki import PkiLayout

HUBS_DEFAULT = "beijing,shanghai,shenzhen,hangzhou"
CHAIN_ID_DEFAULT = "hubledger-local"
HUB_LIST = types.checked_by(parse_hubs)


def add_network_commands(commands: Any) -> None:
    netgen = commands.add_parser("netgen", help="generate keys, genesis and node configs for a network")
    netgen.add_argument(
        "--hubs",
        type=HUB_LIST,
        default=HUBS_DEFAULT,
        help=f"comma-separated hub names (default {HUBS_DEFAULT})",
    )
    netgen.add_argument(
        "--out", type=types.new_directory, required=True, help="new directory to write the network into"
    )
    netgen.add_argument(
        "--chain-id", type=types.identifier, default=CHAIN_ID_DEFAULT, help=f"(default {CHAIN_ID_DEFAULT})"
    )
    netgen.add_argument(
        "--api-port-base", type=types.port, default=8101, help="first hub's client API port (default 8101)"
    )
    netgen.add_argument(
        "--p2p-port-base", type=types.port, default=9101, help="first hub's peer port (default 9101)"
    )
    netgen.add_argument(
        "--compose", action="store_true", help="one container per hub: fixed ports, peers by hub name"
    )
    netgen.add_argument(
        "--host",
        type=types.host_assignment,
        action="append",
        default=[],
        metavar="HUB=ADDRESS",
        help="one hub per host: that hub's DNS name or IP address (give one for every hub); "
        "also writes bundles/<hub>/ to carry to each host (default: all hubs on this host)",
    )
    add_json_argument(netgen)
    netgen.set_defaults(handler=_netgen)

    node = commands.add_parser("node", help="run one validator node")
    node.add_argument("--config", type=types.existing_file, required=True, help="the node's TOML config file")
    node.set_defaults(handler=_node)

    localnet = commands.add_parser("localnet", help="run a local network, one process per hub")
    localnet.add_argument(
        "--hubs",
        type=HUB_LIST,
        default=HUBS_DEFAULT,
        help=f"comma-separated hub names, the validators of the network in --dir (default {HUBS_DEFAULT})",
    )
    localnet.add_argument(
        "--dir",
        type=types.output_directory,
        default=Path(".localnet"),
        help="the network, generated if new (default .localnet)",
    )
    localnet.add_argument(
        "--observer",
        action="store_true",
        help="also run the regulator's observer (observer-regulator.toml; its API on 127.0.0.1:8100)",
    )
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
    hubs = arguments.hubs
    if arguments.host:
        if arguments.compose:
            raise UsageError("--host and --compose exclude each other: bundles carry a compose file each")
        layout = NetworkLayout(
            api_host="0.0.0.0",  # in the hub's container, reached through its host's published ports
            p2p_host="0.0.0.0",
            fixed_ports=True,
            api_port_base=API_PORT,
            p2p_port_base=P2P_PORT,
            peer_hosts=dict(parse_hosts(arguments.host, hubs)),
        )
    genesis = generate_network(hubs, arguments.out, chain_id=arguments.chain_id, layout=layout)
    if arguments.json:
        accounts = [
            {"name": account.name, "role": account.role, "address": account.address.hex()}
            for account in genesis.accounts
        ]
        bundles = write_bundles(arguments.out, hubs) if arguments.host else []
        print_json(
            {
                "chain_id": genesis.chain_id,
                "hubs": hubs,
                "out": arguments.out,
                "accounts": accounts,
                "ca": PkiLayout.of(arguments.out).ca_certificate,
                "bundles": bundles,
            }
        )
        return 0
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

    return run_localnet(arguments.hubs, arguments.dir, observer=arguments.observer)
