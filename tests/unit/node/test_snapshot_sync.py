"""State snapshots: offers and chunks on the wire, and a join that believes nothing unverified.

Three stand-in peers serve one real chain (netgen genesis, executed and certified
blocks: audit_chain.py); one of them forges what it sends. The joining store must end
up with exactly the state of the certified height, fetched around the forger.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from contracts.genesis import compute_genesis_changes
from ledger import cbor
from ledger.errors import DecodeError
from ledger.state_tree import CHUNK_LEVELS, CHUNKS, StateProofError, verify_chunk
from ledger.types import Height
from node.snapshot_join import JoinProgress, SnapshotJoiner
from node.snapshot_protocol import (
    CHUNK_KIND,
    Chunk,
    SnapshotServer,
    decode_chunk,
    decode_offers,
    encode_chunk,
    encode_offers,
)
from node.state_transfer import StateTransferServer
from storage import schema
from storage.chain import ChainStore
from storage.integrity import check_database
from storage.kv import LevelDBStore, MemoryStore
from storage.snapshots import Offer, SnapshotKeeper, build_base_batch
from tests.unit.node.audit_chain import AuditChain, build_audit_chain

SNAPSHOT_HEIGHT = 4
Forgery = Callable[[int, bytes], bytes]  # (chunk index, honest answer) -> answer sent


@pytest.fixture(scope="module")
def audit(tmp_path_factory: pytest.TempPathFactory) -> AuditChain:
    return build_audit_chain(tmp_path_factory.mktemp("chain"), block_count=6, transfers_per_block=4)


class ServingPeers:
    """Stands in for the p2p network: peer i answers from the chain of ``audit`` at SNAPSHOT_HEIGHT."""

    def __init__(self, audit: AuditChain, forgeries: dict[int, Forgery] | None = None) -> None:
        self.store = audit_store(audit, SNAPSHOT_HEIGHT)
        self.chain = ChainStore(self.store)
        self.keeper = SnapshotKeeper(2)
        self.keeper.take(
            self.store, height=SNAPSHOT_HEIGHT, state_root=self.chain.get_state_root(SNAPSHOT_HEIGHT)
        )
        for height in range(SNAPSHOT_HEIGHT + 1, len(audit.blocks) + 1):  # the view must not see these
            audit.commit_into(self.chain, height)
        self.server = SnapshotServer(self.keeper)
        self.blocks = StateTransferServer(self.chain)
        self.forgeries = forgeries or {}
        self.asked: list[tuple[int, str]] = []

    async def request(self, peer: int, data: bytes) -> bytes:
        kind = cbor.decode(data, bytes_max=1024)["kind"]
        self.asked.append((peer, kind))
        if kind == "get_blocks":
            return await self.blocks.handle(peer, data)
        if kind == "get_snapshot_offers":
            return await self.server.handle_offers(peer, data)
        answer = await self.server.handle_chunk(peer, data)
        forge = self.forgeries.get(peer)
        return answer if forge is None else forge(decode_chunk(answer).index, answer)


def audit_store(audit: AuditChain, height: int) -> MemoryStore:
    store = MemoryStore()
    chain = fresh_store(audit, store)
    for h in range(1, height + 1):
        audit.commit_into(chain, h)
    return store


def fresh_store(audit: AuditChain, kv: MemoryStore | LevelDBStore) -> ChainStore:
    chain = ChainStore(kv)
    chain.initialize(audit.genesis.hash, compute_genesis_changes(audit.genesis))
    return chain


def forge_a_value(index: int, answer: bytes) -> bytes:
    chunk = decode_chunk(answer)
    if not chunk.pairs:
        return answer
    key, value = chunk.pairs[0]
    return encode_chunk(
        Chunk(chunk.height, chunk.index, [(key, value + b"0"), *chunk.pairs[1:]], chunk.siblings)
    )


def test_offers_and_chunks_decode_exactly_what_was_encoded() -> None:
    offers = [Offer(Height(2000), b"\x01" * 32), Offer(Height(1000), b"\x02" * 32)]  # type: ignore[arg-type]
    assert decode_offers(encode_offers(offers)) == offers
    chunk = Chunk(Height(7), 3, [(b"k", b"v")], [b"\x03" * 32] * CHUNK_LEVELS)  # type: ignore[list-item]
    assert decode_chunk(encode_chunk(chunk)) == chunk


@pytest.mark.parametrize(
    "answer",
    [
        {"offers": [{"height": 5, "state_root": b"\x01" * 31, "chunks": CHUNKS}]},
        {"offers": [{"height": 5, "state_root": b"\x01" * 32, "chunks": 3}]},
        {"offers": [{"height": 0, "state_root": b"\x01" * 32, "chunks": CHUNKS}]},
        {"offers": [], "extra": 1},
    ],
)
def test_a_malformed_offer_is_refused(answer: dict[str, object]) -> None:
    with pytest.raises(DecodeError):
        decode_offers(cbor.encode(answer))


def test_a_chunk_with_a_sibling_too_many_or_a_bad_pair_is_refused() -> None:
    good = {"height": 1, "chunk": 0, "pairs": [[b"k", b"v"]], "siblings": [b"\x00" * 32] * CHUNK_LEVELS}
    for bad in (
        {**good, "siblings": [b"\x00" * 32] * (CHUNK_LEVELS + 1)},
        {**good, "pairs": [[b"k"]]},
        {**good, "chunk": CHUNKS},
    ):
        with pytest.raises(DecodeError):
            decode_chunk(cbor.encode(bad))


def test_every_served_chunk_verifies_against_the_snapshot_root_after_later_commits(audit: AuditChain) -> None:
    peers = ServingPeers(audit)
    snapshot = peers.keeper.get(SNAPSHOT_HEIGHT)
    assert snapshot is not None and peers.chain.latest_height() == len(audit.blocks)
    root = peers.chain.get_state_root(SNAPSHOT_HEIGHT)
    assert root != peers.chain.get_state_root(len(audit.blocks))  # the store moved on ...
    records = 0
    for index in range(CHUNKS):
        pairs, siblings = snapshot.read_chunk(index)
        verify_chunk(root, index, pairs, siblings)  # ... the view did not
        records += len(pairs)
    assert records == len(list(audit_store(audit, SNAPSHOT_HEIGHT).iterate(prefix=schema.STATE_PREFIX)))
    pairs, siblings = next((p, s) for p, s in map(snapshot.read_chunk, range(CHUNKS)) if p)
    with pytest.raises(StateProofError):
        verify_chunk(root, 0, [*pairs[1:], (pairs[0][0], pairs[0][1] + b"!")], siblings)


async def test_a_forged_chunk_is_refused_and_fetched_from_another_peer(audit: AuditChain) -> None:
    peers = ServingPeers(audit, forgeries={1: forge_a_value})
    progress = JoinProgress()
    joiner = SnapshotJoiner(peers, audit.genesis, progress)
    offers = await joiner.collect_offers([1, 2, 3])
    assert set(offers) == {1, 2, 3}
    joined = await joiner.join(offers)
    assert joined is not None and joined.header.height == SNAPSHOT_HEIGHT
    assert progress.bad_chunks["shanghai"] >= 1 and set(progress.bad_chunks) == {"shanghai"}
    assert progress.chunks_verified == CHUNKS
    kv = MemoryStore()
    chain = fresh_store(audit, kv)
    chain.install_base(build_base_batch(kv, joined.header, joined.certificate, joined.chunks))
    expected = ChainStore(audit_store(audit, SNAPSHOT_HEIGHT))
    assert chain.state_tree.root == expected.state_tree.root == joined.header.state_root
    assert list(chain.iterate_state(b"")) == list(expected.iterate_state(b""))
    assert chain.latest_height() == SNAPSHOT_HEIGHT and chain.first_block_height() == SNAPSHOT_HEIGHT + 1
    assert chain.get_latest_hash() == audit.blocks[SNAPSHOT_HEIGHT - 1][0].hash
    assert chain.get_block(SNAPSHOT_HEIGHT) is None  # no body below the first stored block
    for height in range(SNAPSHOT_HEIGHT + 1, len(audit.blocks) + 1):  # replaying only what follows
        audit.commit_into(chain, height)
    assert chain.state_tree.root == audit.chain.state_tree.root


async def test_an_offer_of_another_root_and_a_forged_header_are_passed_over(audit: AuditChain) -> None:
    def forged_certificate(peer: int, data: bytes) -> bytes:
        return cbor.encode({"blocks": []})

    peers = ServingPeers(audit)
    honest = peers.request

    async def request(peer: int, data: bytes) -> bytes:
        kind = cbor.decode(data, bytes_max=1024)["kind"]
        if peer == 1 and kind == "get_snapshot_offers":
            return encode_offers([Offer(Height(SNAPSHOT_HEIGHT), b"\x09" * 32)])  # type: ignore[arg-type]
        if peer == 2 and kind == "get_blocks":
            return forged_certificate(peer, data)
        return await honest(peer, data)

    peers.request = request  # type: ignore[method-assign]
    joiner = SnapshotJoiner(peers, audit.genesis)
    joined = await joiner.join(await joiner.collect_offers([1, 2, 3]))
    assert joined is not None and joined.sources == (2, 3)  # peer 1's root is not the certified one
    chunk_askers = {peer for peer, kind in peers.asked if kind == CHUNK_KIND}
    assert chunk_askers == {2, 3}


async def test_a_join_no_honest_peer_serves_writes_nothing(audit: AuditChain) -> None:
    peers = ServingPeers(audit, forgeries={1: forge_a_value, 2: forge_a_value})
    progress = JoinProgress()
    joiner = SnapshotJoiner(peers, audit.genesis, progress)
    assert await joiner.join(await joiner.collect_offers([1, 2])) is None
    assert progress.state == "failed" and progress.bad_chunks["shanghai"] and progress.bad_chunks["shenzhen"]


async def test_a_joined_leveldb_store_passes_the_start_up_check(audit: AuditChain, tmp_path: Path) -> None:
    peers = ServingPeers(audit)
    joiner = SnapshotJoiner(peers, audit.genesis)
    joined = await joiner.join(await joiner.collect_offers([1, 2, 3]))
    assert joined is not None
    kv = LevelDBStore.open(tmp_path / "db")
    try:
        chain = fresh_store(audit, kv)
        chain.install_base(build_base_batch(kv, joined.header, joined.certificate, joined.chunks))
        audit.commit_into(chain, SNAPSHOT_HEIGHT + 1)
        report = check_database(
            kv,
            chain_id=audit.genesis.chain_id,
            genesis_hash=audit.genesis.hash,
            validator_keys=audit.genesis.validator_keys,
        )
        assert report.latest_height == SNAPSHOT_HEIGHT + 1 and report.blocks_checked == 1
        assert ChainStore(kv).first_block_height() == SNAPSHOT_HEIGHT + 1  # read back from disk
    finally:
        kv.close()


async def test_a_store_far_behind_is_replaced_whole_by_the_snapshot(audit: AuditChain) -> None:
    joiner = SnapshotJoiner(ServingPeers(audit), audit.genesis)
    joined = await joiner.join(await joiner.collect_offers([1, 2, 3]), above=2)
    assert joined is not None
    kv = audit_store(audit, 2)  # a hub that stopped at height 2
    chain = ChainStore(kv)
    old_transaction = audit.blocks[0][0].transactions[0].id
    assert chain.has_transaction(old_transaction)
    chain.install_base(build_base_batch(kv, joined.header, joined.certificate, joined.chunks))
    assert chain.get_block(1) is None and not chain.has_transaction(old_transaction)
    assert chain.first_block_height() == SNAPSHOT_HEIGHT + 1
    assert list(chain.iterate_state(b"")) == list(
        ChainStore(audit_store(audit, SNAPSHOT_HEIGHT)).iterate_state(b"")
    )
    audit.commit_into(chain, SNAPSHOT_HEIGHT + 1)
    assert chain.state_tree.root == audit.blocks[SNAPSHOT_HEIGHT][0].header.state_root
