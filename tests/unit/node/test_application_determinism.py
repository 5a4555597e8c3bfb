"""The same transactions give the same blocks and state digests on LevelDB and in memory.

Blocks are built and committed through the node's own LedgerApplication, so
this covers speculative execution, the state digest chain and the storage
batches together; hypothesis draws the transactions.
"""

from __future__ import annotations

from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from contracts.genesis import compute_genesis_changes
from ledger.certificate import CommitCertificate, Vote, compute_commit_payload
from ledger.genesis import Genesis, GenesisAccount, Validator
from ledger.hashing import compute_state_digest
from ledger.keys import PrivateKey
from ledger.transaction import Transaction
from ledger.types import Hash, Height, TimestampMs, ValidatorIndex, View
from node.application import LedgerApplication
from storage.chain import ChainStore
from storage.kv import KeyValueStore, LevelDBStore, MemoryStore

CHAIN_ID = "determinism"
VALIDATOR = PrivateKey.from_secret(1000)
BANKS = [PrivateKey.from_secret(1001 + index) for index in range(3)]
GENESIS = Genesis(
    CHAIN_ID,
    TimestampMs(0),
    (Validator("solo", VALIDATOR.public_key),),
    tuple(
        [
            GenesisAccount("central", PrivateKey.from_secret(999).public_key, "central_bank", "beijing", 0),
            GenesisAccount("regulator", PrivateKey.from_secret(998).public_key, "regulator", "beijing", 0),
        ]
        + [
            GenesisAccount(f"bank{i}", key.public_key, "bank", "beijing", 1_000)
            for i, key in enumerate(BANKS)
        ]
    ),
)

transfers = st.lists(
    st.tuples(st.integers(0, 2), st.integers(0, 2), st.integers(1, 700)), min_size=1, max_size=12
)


def open_chain(kv: KeyValueStore) -> tuple[ChainStore, LedgerApplication]:
    chain = ChainStore(kv)
    changes = compute_genesis_changes(GENESIS)
    chain.initialize(GENESIS.hash, changes, compute_state_digest(GENESIS.hash, changes))
    return chain, LedgerApplication(chain=chain, chain_id=CHAIN_ID)


def run(kv: KeyValueStore, blocks: list[list[tuple[int, int, int]]]) -> list[Hash]:
    chain, application = open_chain(kv)
    nonces = [0, 0, 0]
    for height, block_transfers in enumerate(blocks, start=1):
        transactions = []
        for sender, receiver, amount in block_transfers:
            transactions.append(
                Transaction.create(
                    BANKS[sender],
                    chain_id=CHAIN_ID,
                    nonce=nonces[sender],
                    contract="cbdc",
                    method="transfer",
                    args={"to": BANKS[receiver].public_key.address.hex(), "amount": amount},
                )
            )
            nonces[sender] += 1
        block = application.build_block(
            previous_hash=chain.get_latest_hash(),
            height=Height(height),
            view=View(0),
            proposer=ValidatorIndex(0),
            timestamp_ms=TimestampMs(height),
            transactions=transactions,
        )
        payload = compute_commit_payload(CHAIN_ID, View(0), block.height, block.hash)
        certificate = CommitCertificate(
            block.height, View(0), block.hash, (Vote(ValidatorIndex(0), VALIDATOR.sign(payload)),)
        )
        application.commit(block, certificate)
    return [chain.get_state_digest(Height(height)) for height in range(len(blocks) + 1)]


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(blocks=st.lists(transfers, min_size=1, max_size=4))
def test_leveldb_and_memory_reach_the_same_digests(
    tmp_path: Path, blocks: list[list[tuple[int, int, int]]]
) -> None:
    directory = tmp_path / f"db-{len(list(tmp_path.iterdir()))}"
    leveldb = LevelDBStore.open(directory)
    try:
        on_disk = run(leveldb, blocks)
    finally:
        leveldb.close()
    in_memory = run(MemoryStore(), blocks)
    assert on_disk == in_memory
    assert run(MemoryStore(), blocks) == in_memory  # and again: nothing depends on the run


def test_speculative_state_stays_shallow_when_blocks_are_pipelined() -> None:
    """Block h + 1 is built on block h's overlay before h commits; once h commits it must read
    the committed state directly, or every block would add a layer (and memory) for ever."""
    chain, application = open_chain(MemoryStore())
    receiver = BANKS[1].public_key.address.hex()
    blocks = []
    previous = chain.get_latest_hash()
    for height in (1, 2, 3):
        transaction = Transaction.create(
            BANKS[0],
            chain_id=CHAIN_ID,
            nonce=height - 1,
            contract="cbdc",
            method="transfer",
            args={"to": receiver, "amount": 1},
        )
        block = application.build_block(
            previous_hash=previous,
            height=Height(height),
            view=View(0),
            proposer=ValidatorIndex(0),
            timestamp_ms=TimestampMs(height),
            transactions=[transaction],
        )
        blocks.append(block)
        previous = block.hash
    for block in blocks[:2]:
        payload = compute_commit_payload(CHAIN_ID, View(0), block.height, block.hash)
        vote = Vote(ValidatorIndex(0), VALIDATOR.sign(payload))
        application.commit(block, CommitCertificate(block.height, View(0), block.hash, (vote,)))
    overlay = application.speculative_overlay(blocks[2].hash)
    assert overlay.parent is application.committed_state
