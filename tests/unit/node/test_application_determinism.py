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
from ledger.block import Block
from ledger.certificate import CommitCertificate, Vote, compute_commit_payload
from ledger.genesis import Genesis, GenesisAccount, Validator
from ledger.keys import PrivateKey
from ledger.transaction import Transaction
from ledger.types import Hash, Height, TimestampMs, ValidatorIndex, View
from node.application import OVERLAY_DEPTH_MAX, LedgerApplication
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
    chain.initialize(GENESIS.hash, changes)
    return chain, LedgerApplication(chain=chain, chain_id=CHAIN_ID)


def run(kv: KeyValueStore, blocks: list[list[tuple[int, int, int]]]) -> list[Hash]:
    chain, application = open_chain(kv)
    nonces = [0, 0, 0]
    for height, block_transfers in enumerate(blocks, start=1):
        transactions = []
        for sender, receiver, amount in block_transfers:
            transactions.append(make_transfer(sender, receiver, amount, nonces[sender]))
            nonces[sender] += 1
        block = build(application, chain.get_latest_hash(), height, transactions)
        application.commit(block, certify(block))
    return [chain.get_state_root(Height(height)) for height in range(len(blocks) + 1)]


def make_transfer(sender: int, receiver: int, amount: int, nonce: int) -> Transaction:
    return Transaction.create(
        BANKS[sender],
        chain_id=CHAIN_ID,
        nonce=nonce,
        contract="cbdc",
        method="transfer",
        args={"to": BANKS[receiver].public_key.address.hex(), "amount": amount},
    )


def build(
    application: LedgerApplication, previous: Hash, height: int, transactions: list[Transaction]
) -> Block:
    return application.build_block(
        previous_hash=previous,
        height=Height(height),
        view=View(0),
        proposer=ValidatorIndex(0),
        timestamp_ms=TimestampMs(height),
        transactions=transactions,
    )


def certify(block: Block) -> CommitCertificate:
    payload = compute_commit_payload(CHAIN_ID, View(0), block.height, block.hash)
    vote = Vote(ValidatorIndex(0), VALIDATOR.sign(payload))
    return CommitCertificate(block.height, View(0), block.hash, (vote,))


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
    blocks = []
    previous = chain.get_latest_hash()
    for height in (1, 2, 3):
        block = build(application, previous, height, [make_transfer(0, 1, 1, height - 1)])
        blocks.append(block)
        previous = block.hash
    for block in blocks[:2]:
        application.commit(block, certify(block))
    overlay = application.speculative_overlay(blocks[2].hash)
    assert overlay.parent is application.committed_state


def test_a_long_run_of_uncommitted_blocks_reads_shallow_state_and_commits_the_same_digests() -> None:
    """State transfer checks a whole response (up to 256 blocks) before the first one commits,
    each block executing on the one before it: reads must not walk a chain of every block."""
    heights = 3 * OVERLAY_DEPTH_MAX
    chain, application = open_chain(MemoryStore())
    blocks, previous = [], chain.get_latest_hash()
    for height in range(1, heights + 1):
        block = build(application, previous, height, [make_transfer(0, 1, height, height - 1)])
        assert len(block.transactions) == 1  # it read the nonce its parent left
        assert application.speculative_overlay(block.hash).depth() <= OVERLAY_DEPTH_MAX + 1
        blocks.append(block)
        previous = block.hash
    for block in blocks:
        application.commit(block, certify(block))
    digests = [chain.get_state_root(Height(height)) for height in range(heights + 1)]
    one_by_one = [[(0, 1, height)] for height in range(1, heights + 1)]
    assert digests == run(MemoryStore(), one_by_one)


def test_a_signature_verified_is_remembered_until_its_transaction_commits() -> None:
    # Remembered for ever (up to 200,000 ids), the verified ids were 30 MB of every node.
    chain, application = open_chain(MemoryStore())
    first, second = make_transfer(0, 1, 1, 0), make_transfer(0, 1, 1, 1)
    for transaction in (first, second):
        assert application.has_valid_signature(transaction)
    assert application.is_verified(first) and application.is_verified(second)
    block = build(application, chain.get_latest_hash(), 1, [first])
    application.commit(block, certify(block))
    assert not application.is_verified(first)  # committed: never checked again
    assert application.is_verified(second)  # still waiting: its check still counts
