"""A frozen hub (docker pause): the others commit; unpaused, it catches up."""

from __future__ import annotations

from tests.e2e.network import HubNetwork


def test_paused_hub_catches_up_after_unpause(network: HubNetwork) -> None:
    primary, _ = network.get_primary()
    frozen = next(hub for hub in network.hubs if hub != primary)
    others = [hub for hub in network.hubs if hub != frozen]

    network.compose.compose("pause", frozen)
    try:
        network.wait_link_lost(others, frozen)
        record = network.transfer(via=others[-1])
        network.wait_in_sync(others, height_min=int(record["height"]))
        assert network.get_status(frozen) is None, f"{frozen} answers although it is paused"
    finally:
        network.compose.compose("unpause", frozen)

    record = network.transfer(via=frozen)
    tip = network.wait_in_sync(height_min=int(record["height"]))
    network.assert_same_blocks(network.hubs, tip)
