"""Whether this hub may take new transactions and hand out nonces: its standing.

A hub that cannot reach a quorum still accepted transfers: they waited, the
client's ``--wait`` gave up, and they committed later, once a hub came back;
a script that retried with a fresh nonce paid twice. A hub still catching up
answered nonce questions from its old state, and the transfers built from its
answer were refused NONCE_REPLAYED. So a hub that knows it can do neither
says so and keeps nothing: 503 with a stable code and ``Retry-After``, and
the client goes to another hub.

The rule (``get_refusal``), in the order it is checked:

- ``NO_QUORUM``: fewer than 2f + 1 hubs, counting this one, answered this
  hub's status poll (node/peer_status.py, once a second over the peer links)
  within the last ``REACHABLE_MS``. An answer, not a link: a partitioned link
  stays open and carries nothing, and only a peer that answers can vote. The
  window is three polls wide, so one lost answer or a link that drops and
  comes back within a second changes nothing, and a hub alone for a moment is
  in quorum again at the first answers after. At start no peer has answered
  yet: the hub says NO_QUORUM until 2f have, once, and never flips back and
  forth while its links come up (it could not commit anything before then).
- ``BEHIND``: the hub is fetching blocks from its peers (state transfer), or
  f + 1 peers' fresh answers (so at least one honest peer) report certified
  heights more than ``READY_LAG_BLOCKS_MAX`` above its own: the blocks in
  flight make an up-to-date hub look a block or two behind under load.

``/readyz`` (node/api/chain.py) is not ready while the quorum part of this
rule refuses, so a hub is never ready while it turns clients away, and it
reads the same lag for operators. A transaction the hub already holds
or has committed is still answered with its status (node/admission.py): that
keeps nothing new and tells the client its fate.
"""

from __future__ import annotations

from ledger.errors import LedgerError
from node.clock import now_ms
from node.peer_status import READY_LAG_BLOCKS_MAX, PeerStatusBoard
from node.service import Node

REACHABLE_MS = 3000  # three status polls: a peer that answered within this counts as reachable
NO_QUORUM_RETRY_AFTER_S = 2
BEHIND_RETRY_AFTER_S = 1


class NotServing(LedgerError):
    """Raised when this hub may not answer a request now (NO_QUORUM or BEHIND); another hub
    may. ``status`` is 503 and ``retry_after_s`` goes into the Retry-After header. Nothing
    the request carried was kept."""

    def __init__(self, code: str, message: str, *, retry_after_s: int) -> None:
        super().__init__(message, code=code)
        self.status = 503
        self.retry_after_s = retry_after_s


class Standing:
    """Decides, from the peer status board and the node, whether this hub may take new
    transactions and answer nonce questions (the rule is in the module docstring)."""

    def __init__(self, node: Node, board: PeerStatusBoard) -> None:
        self._node = node
        self._board = board

    def get_refusal(self) -> NotServing | None:
        """The error new submissions and nonce questions are answered with now, or None."""
        return self.get_quorum_refusal() or self.get_behind_refusal()

    def get_quorum_refusal(self) -> NotServing | None:
        """NO_QUORUM, or None while 2f + 1 hubs (this one included) answered lately."""
        node = self._node
        reachable = 1 + self._board.count_answered_since(now_ms() - REACHABLE_MS)
        if reachable >= node.quorum:
            return None
        return NotServing(
            "NO_QUORUM",
            f"this hub reaches {reachable} of the {node.quorum} hubs a quorum needs (itself "
            "included), so nothing it accepted could commit now; nothing was kept: "
            "send it to another hub, or retry later",
            retry_after_s=NO_QUORUM_RETRY_AFTER_S,
        )

    def get_behind_refusal(self) -> NotServing | None:
        """BEHIND, or None while this hub is not fetching blocks and not behind its peers."""
        node = self._node
        height = node.chain.latest_height()
        if node.is_fetching:
            return self._behind(f"this hub is catching up: fetching blocks from peers (at height {height})")
        lag, vouched = self._board.compute_lag_blocks()
        if lag > READY_LAG_BLOCKS_MAX:
            return self._behind(f"this hub is at height {height} and its peers at {vouched}")
        return None

    def validate(self) -> None:
        """Raise the refusal, if there is one."""
        refusal = self.get_refusal()
        if refusal is not None:
            raise refusal

    @staticmethod
    def _behind(situation: str) -> NotServing:
        return NotServing(
            "BEHIND",
            f"{situation}; its answer would be out of date and nothing was kept: "
            "ask another hub, or retry shortly",
            retry_after_s=BEHIND_RETRY_AFTER_S,
        )


def validate_min_height(node: Node, min_height: int | None) -> None:
    """Raise BEHIND when a read asks for at least ``min_height`` and this hub is below it."""
    height = node.chain.latest_height()
    if min_height is not None and height < min_height:
        raise NotServing(
            "BEHIND",
            f"this hub is at height {height}; the request asks for at least {min_height}: "
            "ask another hub, or retry shortly",
            retry_after_s=BEHIND_RETRY_AFTER_S,
        )
