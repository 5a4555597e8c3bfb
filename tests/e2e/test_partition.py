"""A hub cut off the network: the other three commit without it; reconnected, it catches up."""

from __future__ import annotations

from tests.e2e.network import HubNetwork

TRANSFERS_WHILE_CUT_OFF = 3


def test_cut_off_hub_catches_up_after_reconnecting(network: HubNetwork) -> None:
    primary, _ = network.get_primary()
    isolated = next(hub for hub in reversed(network.hubs) if hub != primary)
    others = [hub for hub in network.hubs if hub != isolated]
    docker_network = network.compose.get_network_name(isolated)

    network.compose.disconnect(isolated, docker_network)
    try:
        network.wait_link_lost(others, isolated)
        heights = [
            int(network.transfer(via=others[index % len(others)])["height"])
            for index in range(TRANSFERS_WHILE_CUT_OFF)
        ]
        network.wait_in_sync(others, height_min=max(heights))
    finally:
        network.compose.connect(isolated, docker_network)

    record = network.transfer(via=others[0])
    tip = network.wait_in_sync(height_min=int(record["height"]))
    network.assert_same_blocks(network.hubs, tip)
