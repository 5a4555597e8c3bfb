"""SIGKILL a process that commits blocks in a tight loop; the database must hold whole blocks only.

Each round starts the writer on the same LevelDB directory (so it also resumes
from what the previous kill left), waits until it reports enough new commits,
kills it without warning, reopens the database and checks every block from 1
to the latest: decodable, certified, linked to its parent, with all its
receipts, transaction locations and state changes, and nothing of a block
beyond the latest.
"""

from __future__ import annotations

import os
import queue
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from ledger.certificate import validate_certificate
from ledger.state_tree import StateTree
from ledger.types import Height
from storage import schema
from storage.chain import ChainStore
from storage.errors import StorageError
from storage.kv import LevelDBStore
from tests.integration.storage.crash_writer import compute_changes, get_crash_validator_keys
from tests.unit.storage.chain_builder import CHAIN_ID, GENESIS_CHANGES, GENESIS_HASH

REPOSITORY = Path(__file__).resolve().parents[3]
DEADLINE_S = 20.0
ROUNDS = 6
BLOCKS_PER_ROUND_MIN = 50


class Writer:
    """The crash writer process and the heights it has reported committed."""

    def __init__(self, path: Path) -> None:
        environment = dict(os.environ, PYTHONPATH=str(REPOSITORY))
        self.process = subprocess.Popen(
            [sys.executable, "-m", "tests.integration.storage.crash_writer", str(path)],
            cwd=REPOSITORY,
            env=environment,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.lines: queue.Queue[str] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()
        self.last_reported = -1

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.put(line)

    def wait_for_height(self, height: int) -> int:
        """Block until the writer reports a commit at ``height`` or more; fail at the deadline."""
        deadline = time.monotonic() + DEADLINE_S
        while self.last_reported < height:
            remaining = deadline - time.monotonic()
            try:
                line = self.lines.get(timeout=max(remaining, 0.001))
            except queue.Empty:
                raise AssertionError(
                    self._describe(f"no commit at height {height} within {DEADLINE_S}s")
                ) from None
            word, number = line.split()
            if word in ("ready", "committed"):
                self.last_reported = int(number)
        return self.last_reported

    def kill(self) -> None:
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=DEADLINE_S)
        assert self.process.returncode == -signal.SIGKILL, self._describe("the writer exited on its own")

    def _describe(self, what: str) -> str:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        assert self.process.stderr is not None
        return f"{what}; writer exit {self.process.returncode}, stderr:\n{self.process.stderr.read()}"


def validate_chain(chain: ChainStore, kv: LevelDBStore) -> Height:
    """Check every block from 1 to the latest, and that nothing beyond it was written."""
    latest = chain.latest_height()
    validator_keys = [key.public_key.data for key in get_crash_validator_keys()]
    state = dict(GENESIS_CHANGES)
    previous_hash, tree = GENESIS_HASH, StateTree(GENESIS_CHANGES)
    transaction_count = 0
    for height in range(1, latest + 1):
        block = chain.get_block(Height(height))
        certificate = chain.get_certificate(Height(height))
        assert block is not None and certificate is not None, f"block {height} of {latest} is missing"
        validate_certificate(
            certificate,
            chain_id=CHAIN_ID,
            validator_keys=validator_keys,
            block_hash=block.hash,
            height=block.height,
        )
        assert block.header.previous_hash == previous_hash, f"block {height} does not link to its parent"
        assert chain.get_block_by_hash(block.hash) == block
        changes = compute_changes(height)
        assert block.header.state_root == tree.apply(changes)
        for index, transaction in enumerate(block.transactions):
            record = chain.get_transaction(transaction.id)
            assert record is not None, f"transaction {index} of block {height} is not indexed"
            assert (record.height, record.index, record.transaction) == (height, index, transaction)
        for key, value in changes:
            if value is None:
                state.pop(key, None)
            else:
                state[key] = value
        transaction_count += len(block.transactions)
        previous_hash = block.hash
    assert chain.get_latest_hash() == previous_hash
    assert list(chain.iterate_state(b"")) == sorted(state.items()), "state differs from the committed blocks"
    assert chain.get_block(Height(latest + 1)) is None
    assert chain.get_certificate(Height(latest + 1)) is None
    locations = list(kv.iterate(prefix=schema.TRANSACTION_LOCATION_PREFIX))
    receipts = list(kv.iterate(prefix=schema.RECEIPT_PREFIX))
    assert len(locations) == len(receipts) == transaction_count, "a partial block left records behind"
    return latest


def test_a_killed_writer_leaves_only_whole_blocks(tmp_path: Path) -> None:
    path = tmp_path / "db"
    latest = 0
    for round_number in range(ROUNDS):
        writer = Writer(path)
        started_at = writer.wait_for_height(latest)  # "ready": it resumed from what the last kill left
        assert started_at == latest
        if round_number == 0:
            with pytest.raises(StorageError) as raised:
                LevelDBStore.open(path)
            assert raised.value.code == "DATABASE_LOCKED"
        # Kill at a different point of the loop each round; the writer never waits for us.
        reported = writer.wait_for_height(latest + BLOCKS_PER_ROUND_MIN + 7 * round_number)
        writer.kill()

        kv = LevelDBStore.open(path)
        chain = ChainStore(kv)
        chain.initialize(GENESIS_HASH, GENESIS_CHANGES)
        latest = validate_chain(chain, kv)
        kv.close()
        assert latest >= reported, f"block {reported} was reported committed but is not on disk"
