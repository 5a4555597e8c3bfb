"""Damaged LevelDB files: the start-up check opens a whole chain or refuses, never a hole, never a traceback.

A pristine database is built once: blocks whose older part LevelDB has turned
into a table (``.ldb``) and whose newer part is still in the write-ahead log
(``.log``), with consensus log entries in both. Each case copies it, damages one
file (bit flips, or truncation, at offsets drawn from a seeded generator) and
runs ``open_and_check``, the function a node runs before it serves. It must
either raise DatabaseCorrupt, or pass; a pass is then checked against the
pristine database: every block up to the latest present and unchanged, every
transaction indexed, the consensus log unchanged. Anything else (another
exception, a hole, a changed record) fails and names the seed.

The default run tries ``SEEDS_DEFAULT`` seeds per kind of damage. The longer
sweep: ``HUBLEDGER_CORRUPTION_SEEDS=500 pytest tests/integration/storage/test_corruption.py``.

Truncating the write-ahead log may leave a shorter chain that is whole: LevelDB
cannot tell a cut tail from a write that never finished (after a crash that is
what it is), so the check cannot either; the node then fetches what it lacks.
"""

from __future__ import annotations

import os
import random
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from storage import schema
from storage.chain import ChainStore
from storage.consensus_log import ConsensusLogStore
from storage.errors import DatabaseCorrupt
from storage.integrity import open_and_check
from storage.kv import LevelDBStore
from tests.unit.storage.chain_builder import (
    CHAIN_ID,
    GENESIS_CHANGES,
    GENESIS_HASH,
    ChainBuilder,
    get_validator_keys,
)

WRITTEN_ONCE = {
    schema.BLOCK_PREFIX,
    schema.BLOCK_HASH_PREFIX,
    schema.CERTIFICATE_PREFIX,
    schema.TRANSACTION_LOCATION_PREFIX,
    schema.RECEIPT_PREFIX,
    schema.CONSENSUS_LOG_PREFIX,  # in this test
}
SEEDS_DEFAULT = 4
SEEDS = int(os.environ.get("HUBLEDGER_CORRUPTION_SEEDS", SEEDS_DEFAULT))
BLOCKS_IN_TABLES = 40
BLOCKS_IN_LOG = 25


@dataclass(frozen=True)
class Pristine:
    path: Path
    records: dict[bytes, bytes]
    latest: int


def commit(chain: ChainStore, log: ConsensusLogStore, builder: ChainBuilder, count: int) -> None:
    for _ in range(count):
        committed = builder.advance(builder.build(transaction_count=4))
        log.put([(b"vote/%08d" % committed.block.height, committed.block.hash)])
        chain.commit_block(committed.block, committed.certificate, committed.receipts, committed.changes)


@pytest.fixture(scope="module")
def pristine(tmp_path_factory: pytest.TempPathFactory) -> Pristine:
    path = tmp_path_factory.mktemp("pristine") / "db"
    builder = ChainBuilder()
    for count in (BLOCKS_IN_TABLES, BLOCKS_IN_LOG):
        kv = LevelDBStore.open(path)  # reopening turns the log written before into a table
        chain = ChainStore(kv)
        chain.initialize(GENESIS_HASH, GENESIS_CHANGES)
        commit(chain, ConsensusLogStore(kv), builder, count)
        records = dict(kv.iterate())
        kv.close()
    assert list(path.glob("*.ldb")) and list(path.glob("*.log")), "the pristine database needs both kinds"
    return Pristine(path, records, BLOCKS_IN_TABLES + BLOCKS_IN_LOG)


def flip_bits(data: bytearray, rng: random.Random) -> None:
    for _ in range(rng.choice((1, 1, 4, 16))):
        data[rng.randrange(len(data))] ^= 1 << rng.randrange(8)


def truncate(data: bytearray, rng: random.Random) -> None:
    del data[rng.randrange(len(data)) :]


Damage = Callable[[bytearray, random.Random], None]
KINDS: list[tuple[str, str, Damage]] = [
    ("flip-log", "*.log", flip_bits),
    ("flip-table", "*.ldb", flip_bits),
    ("truncate-log", "*.log", truncate),
    ("truncate-table", "*.ldb", truncate),
]
CASES = [(name, pattern, damage, seed) for name, pattern, damage in KINDS for seed in range(SEEDS)]


def damage_copy(pristine: Pristine, destination: Path, pattern: str, damage: Damage, seed: int) -> str:
    shutil.copytree(pristine.path, destination)
    rng = random.Random(seed)
    victim = rng.choice(sorted(path for path in destination.glob(pattern) if path.stat().st_size > 0))
    data = bytearray(victim.read_bytes())
    damage(data, rng)
    victim.write_bytes(bytes(data))
    return victim.name


def assert_whole_and_unchanged(path: Path, pristine: Pristine) -> int:
    kv = LevelDBStore.open(path)
    try:
        chain = ChainStore(kv)
        latest = chain.latest_height()
        assert latest <= pristine.latest
        records = dict(kv.iterate())
        for key, value in records.items():  # a record written once is never changed
            if key[: len(schema.BLOCK_PREFIX)] in WRITTEN_ONCE:
                assert pristine.records.get(key) == value, f"record {key.hex()} differs from what was written"
        for height in range(1, latest + 1):
            block = chain.get_block(height)
            assert block is not None and chain.get_certificate(height) is not None, f"hole at {height}"
            for transaction in block.transactions:
                assert chain.get_transaction(transaction.id) is not None, f"transaction lost at {height}"
        if latest == pristine.latest:
            assert records == pristine.records, "records were lost"
        log_prefix = schema.CONSENSUS_LOG_PREFIX
        log_keys = sorted(key for key in records if key.startswith(log_prefix))
        # Each vote is logged just before its block is committed, so the log may be one ahead.
        assert latest <= len(log_keys) <= latest + 1, "the consensus log lost entries"
        assert log_keys == [log_prefix + b"vote/%08d" % height for height in range(1, len(log_keys) + 1)]
        return latest
    finally:
        kv.close()


@pytest.mark.parametrize(
    ("name", "pattern", "damage", "seed"), CASES, ids=[f"{case[0]}-{case[3]}" for case in CASES]
)
def test_damage_is_refused_or_harmless(
    pristine: Pristine, tmp_path: Path, name: str, pattern: str, damage: Damage, seed: int
) -> None:
    path = tmp_path / "db"
    victim = damage_copy(pristine, path, pattern, damage, seed)
    keys = [key.public_key.data for key in get_validator_keys()]
    try:
        open_and_check(path, chain_id=CHAIN_ID, genesis_hash=GENESIS_HASH, validator_keys=keys)
    except DatabaseCorrupt as error:
        assert error.code == "DATABASE_CORRUPT" and len(error.message) > 20
        return
    latest = assert_whole_and_unchanged(path, pristine)
    if not name.startswith("truncate-log"):
        assert latest == pristine.latest, f"{name} seed {seed} ({victim}) lost blocks without a word"

