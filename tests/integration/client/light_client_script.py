"""Run inside the light client's own virtual environment, against a running network.

Usage: python light_client_script.py NODE_URL KEY_PEM RECEIVER_ADDRESS GENESIS_JSON

Prints one JSON line: where the client was imported from, the receipt of a
transfer it signed and waited for, the sender's balance read with a signed
read, and what checking the transfer's finality proof against genesis gave.
"""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path
from typing import Any

import hubledger_client
from hubledger_client import Client, verify_proof
from ledger.genesis import Genesis
from ledger.keys import PrivateKey


async def main(url: str, key_path: str, receiver: str, genesis_path: str) -> dict[str, Any]:
    key = PrivateKey.load(Path(key_path))
    genesis = Genesis.load(Path(genesis_path))
    async with Client(url) as client:
        record = await client.call(key, "cbdc", "transfer", {"to": receiver, "amount": 7}, wait=True)
        account = await client.get_account(key.public_key.address.hex(), signer=key)
        proof = await client.get_proof(record["id"])
    report = verify_proof(proof, genesis)
    return {
        "client_file": hubledger_client.__file__,
        "success": record["receipt"]["success"],
        "balance": account["balance"],
        "proof_height": report.height,
        "signers": list(report.signers),
    }


if __name__ == "__main__":
    print(json.dumps(asyncio.run(main(*sys.argv[1:5]))))
