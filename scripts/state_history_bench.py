"""What a state proof at an earlier height costs: the rebuild of that height's state tree from
the latest one and the undo records above it (storage/history.py ``prove_state_at``), timed at
several depths over a LevelDB store, with how much an event loop sharing the process slows.

    .venv/bin/python -m scripts.state_history_bench --accounts 200000 --out state-history.json

The store holds N accounts and B blocks' undo records of K keys each (a CBDC transfer writes
three: two balances and the sender's nonce). The rebuild runs in a thread, as the node runs
it; meanwhile a coroutine does a consensus message's worth of hashing per turn, and the
turns a second it gets, alone and beside the rebuild, are reported.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import multiprocessing
import random
import resource
import shutil
import tempfile
import time
from pathlib import Path

from ledger import cbor
from ledger.state_tree import bucket_of, hash_bucket, hash_key, hash_value
from storage import schema
from storage.history import prove_state_at
from storage.kv import LevelDBStore, WriteBatch

KEYS_PER_TRANSFER = 3


def build_store(path: Path, accounts: int, blocks: int, keys_per_block: int) -> list[bytes]:
    rng = random.Random(7)
    keys = [b"balance/%040x" % index for index in range(accounts)]
    kv = LevelDBStore.open(path)
    batch, buckets = WriteBatch(), dict[int, dict[bytes, bytes]]()
    for key in keys:
        value = b"%d" % rng.randrange(10**12)
        key_hash = hash_key(key)
        batch.put(schema.state_key(key), value)
        batch.put(schema.state_entry_key(key_hash), hash_value(value) + key)
        buckets.setdefault(bucket_of(key_hash), {})[key_hash] = hash_value(value)
    for bucket, entries in buckets.items():
        batch.put(schema.state_bucket_key(bucket), hash_bucket(entries))
    for height in range(1, blocks + 1):
        written = sorted(rng.sample(keys, keys_per_block))
        batch.put(
            schema.undo_key(height), cbor.encode([[key, b"%d" % rng.randrange(10**12)] for key in written])
        )
    batch.put(schema.FIRST_UNDO_HEIGHT_KEY, schema.encode_height(1))
    batch.put(schema.LATEST_HEIGHT_KEY, schema.encode_height(blocks))
    kv.write(batch)
    kv.close()
    return keys


def rebuild(kv: LevelDBStore, height: int, keys: list[bytes]) -> float:
    view = kv.read_view()
    try:
        started = time.perf_counter()
        prove_state_at(view, height, keys)
        return time.perf_counter() - started
    finally:
        view.close()


async def turns_per_s(seconds: float) -> float:
    turns, end = 0, time.perf_counter() + seconds
    while time.perf_counter() < end:
        for _ in range(200):
            hashlib.sha256(b"x" * 64).digest()
        await asyncio.sleep(0)
        turns += 1
    return turns / seconds


async def measure(kv: LevelDBStore, latest: int, depth: int, keys: list[bytes]) -> dict[str, float]:
    alone = await turns_per_s(1.0)
    peak_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    rebuilding = asyncio.ensure_future(asyncio.to_thread(rebuild, kv, latest - depth, keys[:2]))
    started, turns = time.perf_counter(), 0
    while not rebuilding.done():
        turns += 1
        for _ in range(200):
            hashlib.sha256(b"x" * 64).digest()
        await asyncio.sleep(0)
    seconds = await rebuilding
    beside = turns / (time.perf_counter() - started)
    peak_growth = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - peak_before
    return {
        "depth_blocks": depth,
        "rebuild_s": round(seconds, 3),
        "loop_turns_per_s_alone": round(alone),
        "loop_turns_per_s_beside": round(beside),
        "peak_rss_growth_mb": round(peak_growth / 1024, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--accounts", type=int, default=200_000, help="accounts in the state (default 200,000)"
    )
    parser.add_argument("--transfers", type=int, default=100, help="transfers a block (default 100)")
    parser.add_argument("--depths", default="10,100,1000", help="blocks below the latest to prove at")
    parser.add_argument("--out", type=Path, help="write the numbers as JSON here")
    arguments = parser.parse_args()
    depths = [int(depth) for depth in arguments.depths.split(",")]
    directory = Path(tempfile.mkdtemp(prefix="state-history-"))
    try:
        # Built in a child process, so that this one's peak memory grows by the rebuilds alone.
        build = (directory / "db", arguments.accounts, max(depths), arguments.transfers * KEYS_PER_TRANSFER)
        with multiprocessing.get_context("spawn").Pool(1) as pool:
            keys = pool.apply(build_store, build)
        kv = LevelDBStore.open(directory / "db")
        results = [asyncio.run(measure(kv, max(depths), depth, keys)) for depth in depths]
        kv.close()
    finally:
        shutil.rmtree(directory, ignore_errors=True)
    for result in results:
        print(
            f"{result['depth_blocks']:>6} blocks back: rebuilt in {result['rebuild_s']:.2f} s, "
            f"peak RSS +{result['peak_rss_growth_mb']} MB; a busy event loop beside it kept "
            f"{result['loop_turns_per_s_beside']} of {result['loop_turns_per_s_alone']} turns a second"
        )
    if arguments.out is not None:
        settings = {"accounts": arguments.accounts, "transfers_per_block": arguments.transfers}
        arguments.out.write_text(json.dumps({"settings": settings, "results": results}, indent=2) + "\n")


if __name__ == "__main__":
    main()
