"""Transactions submitted from the host through every hub commit, and all hubs hold the same chain."""

from __future__ import annotations

from tests.e2e import chain
from tests.e2e.network import HubNetwork

TRANSFERS_PER_HUB = 2


def test_transfers_through_every_hub_commit_with_one_hash_per_height(network: HubNetwork) -> None:
    beijing_key, shanghai_key = network.account_key("bank-beijing"), network.account_key("bank-shanghai")
    payer_before = chain.get_own_balance(network.url("shenzhen"), beijing_key)
    payee_before = chain.get_own_balance(network.url("hangzhou"), shanghai_key)
    heights = []
    for _ in range(TRANSFERS_PER_HUB):
        for hub in network.hubs:
            heights.append(int(network.transfer(via=hub, amount=100)["height"]))

    tip = network.wait_in_sync(height_min=max(heights))
    network.assert_same_blocks(network.hubs, tip)
    paid = 100 * TRANSFERS_PER_HUB * len(network.hubs)
    for hub in network.hubs:
        assert chain.get_own_balance(network.url(hub), beijing_key) == payer_before - paid
        assert chain.get_own_balance(network.url(hub), shanghai_key) == payee_before + paid
