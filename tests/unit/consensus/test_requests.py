"""The pending requests: a request given up as inadmissible is not given up for good."""

from __future__ import annotations

from consensus.requests import LEFT_OUT_MAX, RequestQueue
from tests.unit.consensus.fake_chain import make_transaction


def _queue() -> RequestQueue:
    return RequestQueue(
        transactions_max=100, block_transactions_max=10, block_bytes_max=1 << 20, left_out_patience_ms=0
    )


def test_a_given_up_request_is_taken_again_once_a_request_of_its_sender_commits() -> None:
    """Its predecessor by nonce, late from a partition, makes it admissible: ignored for good,
    it and every later request of its sender would be stranded."""
    queue = _queue()
    later = make_transaction(1)
    queue.add([later], from_peer=True, peer=1)
    for _ in range(LEFT_OUT_MAX):
        queue.note_left_out([later.id], now_ms=0)
    assert len(queue) == 0 and queue.has_refused([later])
    assert queue.add([later], from_peer=True, peer=1) == ([], 0)  # forwarded again: still ignored

    queue.remove_committed([make_transaction(0)])  # the same sender's predecessor commits

    assert not queue.has_refused([later])
    assert queue.add([later], from_peer=True, peer=1) == ([later], 0)
