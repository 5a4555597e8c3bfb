"""The workload: many independent senders, and every transfer signed before the clock starts.

Senders are fresh institution accounts, registered and funded by the hub
banks of genesis in a set-up phase, so no run depends on an earlier one.
Sender ``s`` always submits through hub ``s mod hubs``: its nonces then reach
one mempool in order. Transfer ``i`` is sent by sender ``i mod senders`` with
that sender's nonce ``i div senders``, to the next sender, one fen each, so
offering transfers in index order keeps every sender's nonces in order.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass

from ledger.keys import PrivateKey
from ledger.transaction import Transaction

CHUNK_TRANSACTIONS = 2000
# Ten thousand yuan: each sender pays 1 fen a transfer to the next and is paid by the one before,
# so a run moves a few fen net; and one hub's bank can fund --senders up to its limit alone.
FUNDING_PER_SENDER_FEN = 1_000_000
TRANSFER_FEN = 1


@dataclass(frozen=True)
class Workload:
    """Signed transfers in offering order: their ids (hex) and JSON bodies, and the hub of each."""

    ids: list[str]
    bodies: list[bytes]
    sender_count: int

    def __len__(self) -> int:
        return len(self.ids)

    def get_hub_index(self, position: int, hub_count: int) -> int:
        return (position % self.sender_count) % hub_count


def make_senders(count: int) -> list[PrivateKey]:
    return [PrivateKey.generate() for _ in range(count)]


def encode_body(transaction: Transaction) -> bytes:
    return json.dumps(transaction.to_json(), separators=(",", ":")).encode()


def sign_workload(senders: Sequence[PrivateKey], *, chain_id: str, count: int, processes: int) -> Workload:
    """Sign ``count`` transfers in ``processes`` worker processes (keys travel as PEM)."""
    pems = [key.to_pem() for key in senders]
    chunks = [
        (start, min(count, start + CHUNK_TRANSACTIONS)) for start in range(0, count, CHUNK_TRANSACTIONS)
    ]
    ids: list[str] = []
    bodies: list[bytes] = []
    if processes <= 1:
        _load_keys(pems, chain_id)
        results = map(_sign_chunk, chunks)
        for chunk_ids, chunk_bodies in results:
            ids += chunk_ids
            bodies += chunk_bodies
        return Workload(ids, bodies, len(senders))
    with ProcessPoolExecutor(processes, initializer=_load_keys, initargs=(pems, chain_id)) as pool:
        for chunk_ids, chunk_bodies in pool.map(_sign_chunk, chunks):
            ids += chunk_ids
            bodies += chunk_bodies
    return Workload(ids, bodies, len(senders))


_worker_keys: list[PrivateKey] = []
_worker_receivers: list[str] = []
_worker_chain_id = ""


def _load_keys(pems: list[bytes], chain_id: str) -> None:
    global _worker_chain_id
    _worker_keys[:] = [PrivateKey.from_pem(pem) for pem in pems]
    addresses = [key.public_key.address.hex() for key in _worker_keys]
    _worker_receivers[:] = addresses[1:] + addresses[:1]
    _worker_chain_id = chain_id


def _sign_chunk(chunk: tuple[int, int]) -> tuple[list[str], list[bytes]]:
    sender_count = len(_worker_keys)
    ids, bodies = [], []
    for position in range(*chunk):
        sender = position % sender_count
        transaction = Transaction.create(
            _worker_keys[sender],
            chain_id=_worker_chain_id,
            nonce=position // sender_count,
            contract="cbdc",
            method="transfer",
            args={"to": _worker_receivers[sender], "amount": TRANSFER_FEN},
        )
        ids.append(transaction.id.hex())
        bodies.append(encode_body(transaction))
    return ids, bodies
