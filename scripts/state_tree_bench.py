"""What committing to the state costs a block: the state root of one block's writes, over a
state of N accounts, as a proposer and every voter compute it (ledger/state_tree.py).

    .venv/bin/python -m scripts.state_tree_bench --accounts 1000000 --out state-tree.json

For each block size (transfers a block, three keys written a transfer: two balances and the
sender's nonce, as a CBDC transfer writes) it times a speculative tree over the committed one
and prints the median per block, per transfer, and the proof size at that state.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import time
from pathlib import Path

from ledger.state_tree import StateTree

KEYS_PER_TRANSFER = 3


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--accounts", type=int, default=100_000, help="accounts in the state (default 100,000)"
    )
    parser.add_argument(
        "--blocks", default="10,100,1000", help="transfers a block to time (default 10,100,1000)"
    )
    parser.add_argument("--repeat", type=int, default=20, help="blocks timed at each size (default 20)")
    parser.add_argument("--out", type=Path, help="write the numbers as JSON here")
    arguments = parser.parse_args()
    rng = random.Random(7)
    keys = [b"balance/%040x" % index for index in range(arguments.accounts)]
    started = time.perf_counter()
    tree = StateTree((key, b"%d" % rng.randrange(10**9)) for key in keys)
    built_s = time.perf_counter() - started
    results = []
    for transfers in (int(size) for size in arguments.blocks.split(",")):
        times = []
        for _ in range(arguments.repeat):
            changes = [
                (rng.choice(keys), b"%d" % rng.randrange(10**9)) for _ in range(transfers * KEYS_PER_TRANSFER)
            ]
            started = time.perf_counter()
            tree.preview(changes)  # what build_block and validate_block each add to a block
            times.append(time.perf_counter() - started)
        median_ms = statistics.median(times) * 1000
        results.append(
            {
                "transfers": transfers,
                "block_ms": round(median_ms, 3),
                "per_transfer_us": round(median_ms * 1000 / transfers, 1),
            }
        )
        print(
            f"{transfers:>6} transfers a block: {median_ms:8.2f} ms a block, "
            f"{median_ms * 1000 / transfers:6.1f} us a transfer"
        )
    proof = tree.prove(keys[0], None)
    proof_bytes = len(proof.entries) * 64 + len(proof.siblings) * 32
    print(f"state of {arguments.accounts} keys built in {built_s:.1f} s; a proof is {proof_bytes} bytes")
    if arguments.out is not None:
        document = {
            "accounts": arguments.accounts,
            "build_s": round(built_s, 2),
            "proof_bytes": proof_bytes,
            "blocks": results,
        }
        arguments.out.write_text(json.dumps(document, indent=2) + "\n")


if __name__ == "__main__":
    main()
