"""A four-hub network under test: the compose project plus what a test asks of the chain."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ledger.keys import PrivateKey
from tests.e2e import chain
from tests.e2e.compose import ComposeNetwork, DockerError

READY_TIMEOUT_S = 120.0
SYNC_TIMEOUT_S = 60.0
TRANSFER_AMOUNT = 100  # fen


@dataclass
class HubNetwork:
    compose: ComposeNetwork

    @property
    def hubs(self) -> list[str]:
        return self.compose.hubs

    def url(self, hub: str) -> str:
        return self.compose.api_url(hub)

    def account_key(self, name: str) -> Path:
        return self.compose.network_dir / "accounts" / f"{name}.pem"

    def get_address(self, account: str) -> str:
        return PrivateKey.load(self.account_key(account)).public_key.address.hex()

    def get_status(self, hub: str) -> dict[str, Any] | None:
        return chain.get_status(self.url(hub))

    def get_primary(self) -> tuple[str, int]:
        """(primary hub, view) as the hubs that answer agree on it."""
        def agreed() -> tuple[str, int] | None:
            seen = {(status["primary"], int(status["view"])) for status in self._answering_statuses()}
            return seen.pop() if len(seen) == 1 else None

        return chain.wait_until(agreed, SYNC_TIMEOUT_S, "the answering hubs agree on the primary")

    def _answering_statuses(self, hubs: list[str] | None = None) -> list[dict[str, Any]]:
        statuses = [self.get_status(hub) for hub in hubs or self.hubs]
        return [status for status in statuses if status is not None]

    def wait_healthy(self, timeout_s: float = READY_TIMEOUT_S) -> None:
        """Every container healthy (docker's /healthz check) and every hub ready (/readyz)."""
        def healthy() -> bool:
            return all(self.compose.get_health(hub) == "healthy" for hub in self.hubs)

        chain.wait_until(healthy, timeout_s, f"all of {self.hubs} are healthy", poll_s=0.5)
        chain.wait_until(
            lambda: all(chain.is_ready(self.url(hub)) for hub in self.hubs),
            timeout_s, f"all of {self.hubs} answer /readyz with 200",
        )

    def wait_in_sync(self, hubs: list[str] | None = None, height_min: int = 0,
                     timeout_s: float = SYNC_TIMEOUT_S) -> int:
        """Wait until the hubs report one height (at least height_min) and one last block hash."""
        hubs = hubs or self.hubs

        def in_sync() -> int | None:
            statuses = self._answering_statuses(hubs)
            tips = {(int(status["height"]), status["last_block_hash"]) for status in statuses}
            if len(statuses) != len(hubs) or len(tips) != 1:
                return None
            height = tips.pop()[0]
            return height if height >= max(height_min, 1) else None

        return chain.wait_until(in_sync, timeout_s, f"{hubs} report one tip at height >= {height_min}")

    def wait_link_lost(self, observers: list[str], lost: str, timeout_s: float = SYNC_TIMEOUT_S) -> None:
        """Wait until every observer has noticed that ``lost`` is gone (it leaves their connected_peers).

        Holding a fault this long means the cut-off hub really misses messages, rather than
        receiving them late from a link that never noticed the cut.
        """
        def noticed() -> bool:
            statuses = self._answering_statuses(observers)
            return len(statuses) == len(observers) and all(
                lost not in status["connected_peers"] for status in statuses
            )

        chain.wait_until(noticed, timeout_s, f"{observers} notice that {lost} is gone")

    def get_block_hashes(self, hub: str, height_max: int) -> list[str]:
        hashes = []
        for height in range(1, height_max + 1):
            block_hash = chain.get_block_hash(self.url(hub), height)
            assert block_hash is not None, f"{hub} has no block {height} although its tip is {height_max}"
            hashes.append(block_hash)
        return hashes

    def assert_same_blocks(self, hubs: list[str], height_max: int) -> list[str]:
        """Every hub holds the same block hash at every height up to height_max."""
        reference = self.get_block_hashes(hubs[0], height_max)
        for hub in hubs[1:]:
            hashes = self.get_block_hashes(hub, height_max)
            differing = [height + 1 for height, pair in enumerate(zip(reference, hashes, strict=True))
                         if pair[0] != pair[1]]
            assert not differing, f"{hub} and {hubs[0]} differ at heights {differing}"
        return reference

    def transfer(self, via: str, amount: int = TRANSFER_AMOUNT) -> dict[str, Any]:
        """bank-beijing pays bank-shanghai through the hub ``via``; returns the committed record."""
        return chain.submit_transfer(
            self.url(via), self.account_key("bank-beijing"), self.get_address("bank-shanghai"), amount
        )

    def restore(self) -> None:
        """Bring every hub back (running, unpaused, on the network) so a test starts from a whole network."""
        network = None
        for hub in self.hubs:
            try:
                state = self.compose.inspect(hub)
            except DockerError:
                self.compose.up(hub)
                continue
            if state["State"]["Paused"]:  # type: ignore[index]
                self.compose.compose("unpause", hub)
            elif not state["State"]["Running"]:  # type: ignore[index]
                self.compose.compose("start", hub)
            if not state["NetworkSettings"]["Networks"]:  # type: ignore[index]
                network = network or self._find_network()
                self.compose.connect(hub, network)
        self.wait_healthy()

    def _find_network(self) -> str:
        for hub in self.hubs:
            try:
                return self.compose.get_network_name(hub)
            except DockerError:
                continue
        raise DockerError("no hub is on the project network")


def measure_s(started: float) -> float:
    return round(time.monotonic() - started, 2)
