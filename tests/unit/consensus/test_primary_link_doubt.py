"""One faulty validator may not depose a live primary whenever an honest backup's link to it
blinks: a lost link is not a doubt that two replicas hold, it is a doubt the faulty one makes
count (f + 1 VIEW-CHANGEs). On a loaded host a link blinks whenever a node stalls past
``silence_max_ms``; each blink would cost a view change, without the backoff that
``_join_if_alone_too_long`` gives the same faulty validator asking alone."""

from __future__ import annotations

from consensus.messages import ViewChange, sign_message
from ledger.types import Height, ValidatorIndex, View
from tests.unit.consensus.fake_chain import CHAIN_ID, GENESIS_HASH, get_key, make_transaction
from tests.unit.consensus.harness import Cluster

FAULTY = 3
FLAPS = 12


def _ask_for_next_view(cluster: Cluster, view: int) -> None:
    """The faulty validator asks every peer for ``view``: a valid VIEW-CHANGE from genesis."""
    body = ViewChange(View(view), Height(0), GENESIS_HASH, (), ())
    message = sign_message(body, chain_id=CHAIN_ID, sender=ValidatorIndex(FAULTY), key=get_key(100 + FAULTY))
    for node in cluster.nodes:
        if node.index != FAULTY:
            cluster.run(node.index, node.replica.on_message(message, cluster.now_ms))


def _run_for(cluster: Cluster, duration_ms: int) -> None:
    cluster.run_until(lambda: False, deadline_ms=duration_ms)


def test_one_faulty_validator_and_blinking_links_do_not_depose_live_primaries() -> None:
    """An idle network, honest primaries every honest replica still reaches, and, once per view,
    one honest backup's link to the primary going down for 300 ms (a stall past the silence
    limit, then a re-dial). The faulty validator asks for the next view at each blink. It may
    pull each honest replica up once, then ever more rarely (``_join_if_alone_too_long``): the
    blinks must not let it depose an honest primary each time."""
    cluster = Cluster(4, seed=41)
    cluster.crashed.add(FAULTY)  # it sends only what the test makes it send
    cluster.submit([make_transaction(0)], to=[1])
    honest = [node for node in cluster.nodes if node.index != FAULTY]
    assert cluster.run_until(cluster.all_reach(1, honest))
    deposed = 0
    for _ in range(FLAPS):
        view = max(node.replica.view for node in honest)
        primary = ValidatorIndex(view % cluster.n)
        if primary != FAULTY:
            backup = next(node for node in honest if node.index != primary)
            cluster.run(backup.index, backup.replica.on_peer_disconnected(primary, cluster.now_ms))
            _ask_for_next_view(cluster, view + 1)
            _run_for(cluster, 300)
            cluster.run(backup.index, backup.replica.on_peer_connected(primary, cluster.now_ms))
        _run_for(cluster, 2_000)
        if primary != FAULTY and max(node.replica.view for node in honest) > view:
            deposed += 1
    assert deposed <= len(honest), f"{FLAPS} blinks of one honest link deposed {deposed} live primaries"
