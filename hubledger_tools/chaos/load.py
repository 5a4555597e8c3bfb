"""Steady load: CBDC transfers between the hub banks, submitted to live hubs throughout.

Each bank keeps its own nonce. A transfer the network acknowledged (202) is
followed until some hub reports it committed; that acknowledgement is what
the final check holds the network to. A bank whose transfers stay pending
offers them again to another hub, so a killed hub does not stall it.
"""

from __future__ import annotations

import random
import threading
from dataclasses import dataclass, field

from hubledger_tools.chaos.cluster import ChaosCluster, http_json
from ledger.keys import PrivateKey
from ledger.transaction import Transaction

OUTSTANDING_MAX = 4


@dataclass
class Bank:
    name: str
    key: PrivateKey
    nonce: int = 0
    outstanding: list[Transaction] = field(default_factory=list)


class LoadDriver:
    def __init__(self, cluster: ChaosCluster, rate_per_s: float, *, reserved: tuple[str, ...] = ()) -> None:
        self.cluster = cluster
        self.rate_per_s = rate_per_s
        names = [f"bank-{hub}" for hub in cluster.hubs if f"bank-{hub}" not in reserved]
        self.banks = [Bank(name, cluster.account_key(name)) for name in names]
        self.addresses = [bank.key.public_key.address.hex() for bank in self.banks]
        self.acknowledged: dict[str, str] = {}  # transaction id -> hub that said committed
        self.submitted = 0
        self.refused = 0
        self._rng = random.Random(7)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> None:
        if self.rate_per_s > 0 and len(self.banks) >= 2:
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=30)
        self._follow()

    def _run(self) -> None:
        period_s = 1.0 / self.rate_per_s
        turn = 0
        while not self._stop.wait(period_s):
            bank = self.banks[turn % len(self.banks)]
            turn += 1
            try:
                self._tick(bank)
            except OSError:
                self.refused += 1  # a hub went down under us: the next tick tries another
            if turn % len(self.banks) == 0:
                self._follow()

    def _live_hubs(self) -> list[str]:
        return [hub for hub in self.cluster.hubs if self.cluster.is_up(hub)]

    def _tick(self, bank: Bank) -> None:
        hubs = self._live_hubs()
        if not hubs:
            return
        hub = self._rng.choice(hubs)
        if len(bank.outstanding) >= OUTSTANDING_MAX:
            for transaction in bank.outstanding:  # offered again; ids make this idempotent
                http_json(self.cluster.url(hub) + "/v1/transactions", transaction.to_json())
            return
        recipient = self._rng.choice([a for a in self.addresses if a != bank.key.public_key.address.hex()])
        transaction = Transaction.create(
            bank.key,
            chain_id=self.cluster.genesis.chain_id,
            nonce=bank.nonce,
            contract="cbdc",
            method="transfer",
            args={"to": recipient, "amount": self._rng.randint(1, 10_000)},
        )
        code, _ = http_json(self.cluster.url(hub) + "/v1/transactions", transaction.to_json())
        if code == 202:
            bank.nonce += 1
            bank.outstanding.append(transaction)
            self.submitted += 1
        else:
            self.refused += 1

    def _follow(self) -> None:
        for hub in self._live_hubs():
            for bank in self.banks:
                still = []
                for transaction in bank.outstanding:
                    try:
                        code, record = http_json(
                            f"{self.cluster.url(hub)}/v1/transactions/{transaction.id.hex()}"
                        )
                    except OSError:
                        still.append(transaction)
                        continue
                    if code == 200 and record.get("status") == "committed":
                        self.acknowledged[transaction.id.hex()] = hub
                    else:
                        still.append(transaction)
                bank.outstanding = still
            return  # one live hub is enough to learn what committed
