"""State transfer answers: stored encodings, checked strictly; the fetcher reads the next
answer ahead and vouches only for signatures that verified."""

from __future__ import annotations

import asyncio
import dataclasses

import pytest

from ledger import cbor
from ledger.errors import DecodeError
from ledger.transaction import Transaction
from ledger.types import Height
from node.signature_pool import BATCH_MIN, SignaturePool
from node.state_transfer import BlockFetcher, StateTransferServer, fetch_blocks
from tests.unit.node.audit_chain import AuditChain, build_audit_chain


class ServingPeer:
    """Stands in for the p2p network: every request is answered by one peer's chain store."""

    def __init__(self, chain: AuditChain) -> None:
        self._server = StateTransferServer(chain.chain)
        self.requests: list[tuple[int, bytes]] = []

    async def request(self, peer: int, data: bytes) -> bytes:
        self.requests.append((peer, data))
        return await self._server.handle(peer, data)


def forge(transaction: Transaction) -> Transaction:
    signature = bytes([transaction.signature[0] ^ 1]) + transaction.signature[1:]
    return dataclasses.replace(transaction, signature=signature)


@pytest.fixture(scope="module")
def chain(tmp_path_factory: pytest.TempPathFactory) -> AuditChain:
    return build_audit_chain(tmp_path_factory.mktemp("chain"), block_count=6, transfers_per_block=20)


async def test_the_pool_finds_exactly_the_transactions_whose_signatures_verify(chain: AuditChain) -> None:
    transactions = [tx for block, _ in chain.blocks for tx in block.transactions]
    assert len(transactions) >= BATCH_MIN  # large enough to go to the worker processes
    forged = {3, 50, len(transactions) - 1}
    offered = [forge(tx) if index in forged else tx for index, tx in enumerate(transactions)]
    pool = SignaturePool(workers=2)
    try:
        valid = await pool.find_valid(offered)
    finally:
        pool.close()
    assert valid == [tx for index, tx in enumerate(offered) if index not in forged]


async def test_the_next_part_is_read_ahead_and_its_signatures_are_vouched_for(
    chain: AuditChain, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("node.state_transfer.FETCHED_BLOCKS_MAX", 2)
    peer = ServingPeer(chain)
    verified: set[bytes] = set()
    fetcher = BlockFetcher(
        peer,  # type: ignore[arg-type]
        SignaturePool(workers=1),
        is_verified=lambda tx: tx.id in verified,
        mark_verified=lambda tx: verified.add(tx.id),
    )
    try:
        first = await fetcher.fetch(1, Height(1), Height(6))
        assert [block.height for block, _ in first] == [1, 2]
        await asyncio.sleep(0)  # the loop is free: the read-ahead asks at once
        assert len(peer.requests) == 2
        second = await fetcher.fetch(1, Height(3), Height(6))
        assert [block.height for block, _ in second] == [3, 4]
        await asyncio.sleep(0)
        assert len(peer.requests) == 3, "blocks 3-4 came from the read-ahead, 5-6 are being read"
        other = await fetcher.fetch(2, Height(5), Height(6))  # the replica turned to another peer
        assert [block.height for block, _ in other] == [5, 6]
    finally:
        fetcher.close()
    fetched = {tx.id for block, _ in [*first, *second, *other] for tx in block.transactions}
    assert fetched == verified


class AnsweringPeer:
    """A peer that answers every fetch with the given bytes."""

    def __init__(self, answer: bytes) -> None:
        self.answer = answer

    async def request(self, peer: int, data: bytes) -> bytes:
        return self.answer


async def test_an_answer_is_the_stored_encodings_and_anything_else_is_refused(chain: AuditChain) -> None:
    block, certificate = chain.blocks[0]
    good = cbor.encode({"blocks": [[block.encode(), certificate.encode()]]})
    fetched = await fetch_blocks(AnsweringPeer(good), 1, Height(1), Height(1))  # type: ignore[arg-type]
    assert fetched == [(block, certificate)]
    tampered = bytearray(block.encode())
    tampered[-1] ^= 1  # the last transaction's signature: the transactions root no longer matches
    answers = {
        "decoded maps": cbor.encode({"blocks": [[block.to_cbor_map(), certificate.to_cbor_map()]]}),
        "a tampered block": cbor.encode({"blocks": [[bytes(tampered), certificate.encode()]]}),
        "a lone block": cbor.encode({"blocks": [[block.encode()]]}),
    }
    for name, answer in answers.items():
        with pytest.raises(DecodeError):
            await fetch_blocks(AnsweringPeer(answer), 1, Height(1), Height(1))  # type: ignore[arg-type]
            pytest.fail(f"an answer with {name} was accepted")
