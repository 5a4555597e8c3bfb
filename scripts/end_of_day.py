"""An interbank day on HubLedger, end to end, against a running network.

    .venv/bin/python -m scripts.end_of_day --network .localnet

The central bank issues digital currency to each hub's bank; banks pay each
other and their customer institutions; a bond settles delivery versus
payment; an escrow is released by its arbiter; the day's interbank
obligations are netted. Balances are printed before and after, read with the
central bank's key (it may read every account).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path
from typing import Any

from hubledger_client.client import Client
from hubledger_client.errors import ClientError
from hubledger_client.tls import find_ca_file, make_client_context
from hubledger_tools.cli.arguments import DEFAULT_NODE_URL
from hubledger_tools.cli.common import format_fen
from ledger.genesis import Genesis
from ledger.keys import PrivateKey

YUAN = 100  # fen


class Day:
    def __init__(self, client: Client, network: Path) -> None:
        self.client = client
        self.network = network
        genesis = Genesis.load(network / "genesis.json")
        self.hubs = [validator.name for validator in genesis.validators]
        self.central_bank = self.key("central-bank")
        self.regulator = self.key("regulator")
        self.banks = {hub: self.key(f"bank-{hub}") for hub in self.hubs}
        self.customers = {hub: PrivateKey.generate() for hub in self.hubs}
        self.tag = ""

    def key(self, name: str) -> PrivateKey:
        return PrivateKey.load(self.network / "accounts" / f"{name}.pem")

    async def call(
        self, key: PrivateKey, contract: str, method: str, args: dict[str, Any], what: str
    ) -> None:
        record = await self.client.call(key, contract, method, args, wait=True)
        receipt = record.get("receipt", {})
        outcome = (
            "ok" if receipt.get("success") else f"FAILED {receipt.get('code')}: {receipt.get('message')}"
        )
        print(f"  {what:<58} height {record.get('height', '?'):>5}  {outcome}")
        if not receipt.get("success"):
            raise SystemExit(f"step failed: {what}")

    async def balances(self) -> dict[str, int]:
        accounts = {f"bank-{hub}": key for hub, key in self.banks.items()}
        accounts |= {f"customer-{hub}": key for hub, key in self.customers.items()}
        result = {}
        for name, key in accounts.items():
            try:
                account = await self.client.get_account(
                    key.public_key.address.hex(), signer=self.central_bank
                )
                result[name] = int(account["balance"])
            except ClientError as error:
                if error.code != "NOT_FOUND":
                    raise
                result[name] = 0  # a customer not yet registered has no account
        return result

    async def run(self) -> None:
        self.tag = str((await self.client.get_status())["height"])
        before = await self.balances()
        print("Morning: the central bank issues to every hub's bank")
        for hub, bank in self.banks.items():
            await self.call(
                self.central_bank,
                "cbdc",
                "issue",
                {"to": address(bank), "amount": 5_000_000 * YUAN},
                f"issue 5,000,000 CNY to bank-{hub}",
            )
        print("Banks open accounts for institutions and pay each other and them")
        for hub, bank in self.banks.items():
            await self.call(
                bank,
                "accounts",
                "register_institution",
                {"public_key": self.customers[hub].public_key.hex(), "hub": hub},
                f"bank-{hub} registers an institution",
            )
            await self.call(
                bank,
                "cbdc",
                "transfer",
                {"to": address(self.customers[hub]), "amount": 250_000 * YUAN},
                f"bank-{hub} pays its institution 250,000 CNY",
            )
        for position, hub in enumerate(self.hubs):
            peer = self.hubs[(position + 1) % len(self.hubs)]
            await self.call(
                self.banks[hub],
                "cbdc",
                "transfer",
                {"to": address(self.banks[peer]), "amount": 1_000_000 * YUAN},
                f"bank-{hub} pays bank-{peer} 1,000,000 CNY",
            )
        await self.settle_bond()
        await self.settle_escrow()
        await self.net_obligations()
        after = await self.balances()
        print_balances(before, after)

    async def settle_bond(self) -> None:
        seller, buyer = self.banks[self.hubs[0]], self.banks[self.hubs[1 % len(self.hubs)]]
        security, dvp = f"CGB-{self.tag}", f"dvp-{self.tag}"
        print("A government bond settles delivery versus payment")
        await self.call(
            seller,
            "securities",
            "create",
            {"security_id": security, "name": "China Government Bond", "supply": 1000},
            f"{self.hubs[0]} creates {security}",
        )
        height = int((await self.client.get_status())["height"])
        await self.call(
            seller,
            "dvp",
            "propose",
            {
                "dvp_id": dvp,
                "counterparty": address(buyer),
                "security_id": security,
                "quantity": 100,
                "amount": 10_000_000 * YUAN // 100,
                "expiry_height": height + 1000,
            },
            "propose 100 units against 100,000 CNY",
        )
        await self.call(
            buyer, "dvp", "accept", {"dvp_id": dvp}, "counterparty accepts: both legs settle at once"
        )

    async def settle_escrow(self) -> None:
        payer, payee = self.banks[self.hubs[-1]], self.banks[self.hubs[0]]
        height = int((await self.client.get_status())["height"])
        escrow = f"escrow-{self.tag}"
        print("An escrow is locked and released by its arbiter, the regulator")
        await self.call(
            payer,
            "escrow",
            "lock",
            {
                "escrow_id": escrow,
                "payee": address(payee),
                "arbiter": address(self.regulator),
                "amount": 50_000 * YUAN,
                "expiry_height": height + 1000,
            },
            "lock 50,000 CNY",
        )
        await self.call(
            self.regulator, "escrow", "release", {"escrow_id": escrow}, "arbiter releases to the payee"
        )

    async def net_obligations(self) -> None:
        print("End of day: interbank obligations are netted and settled at once")
        obligations = [
            {
                "from": address(self.banks[hub]),
                "to": address(self.banks[self.hubs[(i + 2) % len(self.hubs)]]),
                "amount": (i + 1) * 120_000 * YUAN,
            }
            for i, hub in enumerate(self.hubs)
        ]
        await self.call(
            self.central_bank,
            "netting",
            "settle",
            {"obligations": obligations},
            f"net {len(obligations)} obligations",
        )


def address(key: PrivateKey) -> str:
    return key.public_key.address.hex()


def print_balances(before: dict[str, int], after: dict[str, int]) -> None:
    print(f"\n{'account':<22}{'before':>26}{'after':>26}")
    for name in before:
        print(f"{name:<22}{format_fen(before[name]):>26}{format_fen(after[name]):>26}")


async def main_async(arguments: argparse.Namespace) -> None:
    # The hub is checked against the network's own CA: --ca, $HUBLEDGER_CA, or <network>/tls/ca.crt.
    context = make_client_context(find_ca_file(arguments.ca, network_dir=arguments.network))
    async with Client(arguments.node, ssl_context=context) as client:
        await Day(client, arguments.network).run()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--network", type=Path, default=Path(".localnet"), help="directory written by netgen")
    parser.add_argument("--node", default=DEFAULT_NODE_URL, help="client API of any hub")
    parser.add_argument("--ca", type=Path, default=None, help="the network's CA certificate")
    arguments = parser.parse_args(argv)
    if not (arguments.network / "genesis.json").exists():
        print(f"error: {arguments.network} holds no network; run `make run` first", file=sys.stderr)
        return 2
    asyncio.run(main_async(arguments))
    return 0


if __name__ == "__main__":
    sys.exit(main())
