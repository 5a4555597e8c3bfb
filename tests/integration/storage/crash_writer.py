"""Commits blocks to a LevelDB chain store as fast as it can until it is killed.

Run as ``python -m tests.integration.storage.crash_writer DB_DIR``. It resumes
from whatever the database holds, prints ``ready HEIGHT`` once open and
``committed HEIGHT`` after every synced commit, so a test can SIGKILL it at
any moment and then check that what it reported is on disk, whole.

What each block changes is a function of its height alone (``compute_changes``),
so the checker can replay the expected state without talking to this process.
"""

from __future__ import annotations

import functools
import sys
from pathlib import Path

from ledger.keys import PrivateKey
from storage.chain import ChainStore, CommittedBlock
from storage.kv import LevelDBStore
from tests.unit.storage.chain_builder import (
    GENESIS_CHANGES,
    GENESIS_HASH,
    VALIDATOR_COUNT,
    ChainBuilder,
)

BLOCKS_MAX = 100_000  # a writer nobody kills still stops
BLOCKS_AHEAD = 97  # not a round number, so the kill points move across the chunks
SLOTS = 7


@functools.cache
def get_crash_validator_keys() -> tuple[PrivateKey, ...]:
    # Fixed secrets, so the checking process can verify certificates written by every run.
    return tuple(PrivateKey.from_secret(1000 + index) for index in range(VALIDATOR_COUNT))


def compute_changes(height: int) -> list[tuple[bytes, bytes | None]]:
    changes: list[tuple[bytes, bytes | None]] = [
        (b"latest", height.to_bytes(8, "big")),
        (b"slot/%d" % (height % SLOTS), b"written at %d " % height + b"." * (height % 50)),
    ]
    if height % 3 == 0:
        changes.append((b"slot/%d" % ((height + 3) % SLOTS), None))
    return changes


def compute_transaction_count(height: int) -> int:
    return 1 + height % 5


def build_ahead(builder: ChainBuilder) -> list[CommittedBlock]:
    """Sign the next blocks before committing any, so that the commit loop is mostly
    writes and a kill is likely to land inside one."""
    blocks = []
    for _ in range(BLOCKS_AHEAD):
        height = builder.height + 1
        committed = builder.build(
            transaction_count=compute_transaction_count(height), changes=compute_changes(height)
        )
        blocks.append(builder.advance(committed))
    return blocks


def main(path: Path) -> None:
    kv = LevelDBStore.open(path)
    chain = ChainStore(kv)
    chain.initialize(GENESIS_HASH, GENESIS_CHANGES)
    builder = ChainBuilder(validator_keys=get_crash_validator_keys())
    latest = chain.get_block(chain.latest_height())
    if latest is not None:
        builder.resume(latest, chain.iterate_state(b""))
    print(f"ready {builder.height}", flush=True)
    for _ in range(BLOCKS_MAX // BLOCKS_AHEAD):
        for committed in build_ahead(builder):
            chain.commit_block(committed.block, committed.certificate, committed.receipts, committed.changes)
            print(f"committed {committed.block.height}", flush=True)
    kv.close()


if __name__ == "__main__":
    main(Path(sys.argv[1]))
