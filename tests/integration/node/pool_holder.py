"""Holds a live signature pool until it is killed: ``python -m tests.integration.node.pool_holder``.

It checks one batch in the pool (which starts the worker processes), prints
``ready`` and then waits on its standard input, which the test never closes.
"""

from __future__ import annotations

import asyncio
import sys

from node.signature_pool import BATCH_MIN, SignaturePool
from tests.unit.storage.chain_builder import make_transactions


async def main() -> None:
    pool = SignaturePool(workers=2)
    transactions = make_transactions(0, BATCH_MIN * 2)
    valid = await pool.find_valid(transactions)
    if len(valid) != len(transactions):
        raise SystemExit("the pool refused valid signatures")
    print("ready", flush=True)
    sys.stdin.read()


if __name__ == "__main__":
    asyncio.run(main())
