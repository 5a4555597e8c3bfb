"""docker compose down (volumes kept) and up again: every block and balance is still there."""

from __future__ import annotations

from tests.e2e import chain
from tests.e2e.network import HubNetwork


def test_down_and_up_keeps_every_block_and_balance(network: HubNetwork) -> None:
    network.transfer(via="shanghai")
    tip = network.wait_in_sync()
    hashes = network.assert_same_blocks(network.hubs, tip)
    keys = [network.account_key(f"bank-{hub}") for hub in ("beijing", "shanghai")]
    balances = [chain.get_own_balance(network.url("beijing"), key) for key in keys]

    network.compose.down(volumes=False)
    network.compose.up()
    network.wait_healthy()

    assert network.wait_in_sync(height_min=tip) == tip
    for hub in network.hubs:
        assert network.get_block_hashes(hub, tip) == hashes, f"{hub} lost or changed blocks across down/up"
        assert [chain.get_own_balance(network.url(hub), key) for key in keys] == balances
    record = network.transfer(via="hangzhou")
    assert int(record["height"]) == tip + 1
