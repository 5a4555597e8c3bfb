"""Four hubs as real processes on 127.0.0.1 stay live through a partitioned backup, a clock
40 s slow, one paused hub at a time and fetches that all failed (issue 14, problems 5 to 8).

Scenario steps (how long a hub stays cut off or paused) are sleeps; every result is
waited for with a deadline.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.integration.harness import (
    ADMIN_TOKEN,
    LocalNetwork,
    Submitter,
    assert_same_chain,
    wait_committed_on,
    wait_for,
)

HUBS = ["beijing", "shanghai", "shenzhen", "hangzhou"]
ENV = {
    "HUBLEDGER_CONSENSUS_VIEW_TIMEOUT_MS": "1000",
    "HUBLEDGER_CONSENSUS_REQUEST_TIMEOUT_MS": "2000",
    "HUBLEDGER_ADMIN_TOKEN": ADMIN_TOKEN,
}
LIBFAKETIME = Path("/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1")


def _start(network: LocalNetwork, envs: dict[str, dict[str, str]] | None = None) -> None:
    for hub in HUBS:
        network.start(hub, (envs or {}).get(hub))
    wait_for(lambda: all(len(network.status(h)["connected_peers"]) == 3 for h in HUBS), what="full mesh")


@pytest.fixture
def network(tmp_path: Path) -> Iterator[LocalNetwork]:
    network = LocalNetwork(tmp_path / "net", HUBS, env=ENV)
    yield network
    for hub in list(network.processes):
        network.resume(hub)  # a paused process cannot be terminated
    network.stop_all()


def _views(network: LocalNetwork, hubs: list[str]) -> set[int]:
    return {int(network.status(hub)["view"]) for hub in hubs}


def test_a_transfer_offered_to_an_isolated_backup_commits_after_the_heal_or_is_refused(
    network: LocalNetwork,
) -> None:
    """Problem 5: a transfer an isolated backup accepted stayed pending for good, its hub alone in
    view 1 and saying it was ready. Since a hub refuses NO_QUORUM once it knows it is cut off
    (node/standing.py), a transfer offered right after the cut is either taken, in the moment
    before the hub knows, and must then commit after the heal; or refused, and then nothing of
    it may survive. A little later the cut-off hub must refuse, whatever happened first."""
    _start(network)
    submitter = Submitter(network, "bank-hangzhou", "central-bank")
    wait_committed_on(network, "hangzhou", submitter.transfer("beijing"))
    primary = network.status("beijing")["primary"]
    lonely = next(hub for hub in reversed(HUBS) if hub != primary)
    network.isolate(lonely)
    code, answer = submitter.offer(lonely)
    assert code == 202 or _refusal_of((code, answer)) in ("NO_QUORUM", "BEHIND"), answer
    wait_for(lambda: _refusal_of(submitter.offer(lonely)) == "NO_QUORUM", what=f"{lonely} to say NO_QUORUM")
    time.sleep(5)  # a scenario step: how long it stays cut off
    network.heal()
    healed = time.monotonic()
    if code == 202:
        for hub in HUBS:
            wait_committed_on(network, hub, str(answer["id"]), timeout_s=30)
        print(f"transfer accepted in isolation committed {time.monotonic() - healed:.2f} s after the heal")
    wait_for(lambda: len(_views(network, HUBS)) == 1, what="every hub in one view")
    wait_for(lambda: network.readiness(lonely)[0] == 200, what=f"{lonely} ready again")
    # Its nonce is the one every refused offer carried: had a hub kept one, this would replay it.
    record = wait_committed_on(network, "beijing", submitter.transfer(lonely), timeout_s=15)
    assert record["receipt"]["success"], record
    assert_same_chain(network, HUBS)


def _refusal_of(answer: tuple[int, Any]) -> str | None:
    code, document = answer
    assert code in (202, 503), document  # taken, or refused for now; never anything else
    return str(document["error"]["code"]) if code == 503 else None


def test_a_backup_cut_off_while_blocks_commit_catches_up_after_the_heal_with_no_new_traffic(
    network: LocalNetwork,
) -> None:
    """A partition that cuts the payload but not the links ends with no link coming up, and an
    idle network sends no vote: the healed hub stayed 4 blocks behind for a minute, answering
    BEHIND, until someone transacted. Its peers' status answers show the gap; it must fetch."""
    _start(network)
    submitter = Submitter(network, "bank-beijing", "central-bank")
    primary = network.status("beijing")["primary"]
    lonely = next(hub for hub in reversed(HUBS) if hub != primary)
    wait_committed_on(network, lonely, submitter.transfer(primary))
    network.isolate(lonely)
    for _ in range(4):
        wait_committed_on(network, primary, submitter.transfer(primary))
    target = network.height(primary)
    assert network.height(lonely) < target
    network.heal()
    healed = time.monotonic()
    wait_for(lambda: network.height(lonely) >= target, timeout_s=10, what=f"{lonely} at height {target}")
    print(f"the healed hub caught up {time.monotonic() - healed:.2f} s after the heal, with no new traffic")
    assert_same_chain(network, HUBS)


@pytest.mark.skipif(not LIBFAKETIME.exists(), reason="needs libfaketime: apt-get install faketime")
def test_a_hub_whose_clock_is_40_s_slow_has_its_transfers_committed_and_says_it_is_not_ready(
    network: LocalNetwork,
) -> None:
    """Problem 6: under faketime -40s a hub sat alone in view 2, its transfers took 4-7 s or
    never committed, and /readyz said ready. It cannot vote (every proposal's timestamp is
    beyond the 30 s skew bound from its clock), but it must not leave the others' view
    alone, its transfers must commit, and it must say what is wrong."""
    skewed = "hangzhou"
    slow = {"LD_PRELOAD": str(LIBFAKETIME), "FAKETIME": "-40s", "FAKETIME_DONT_RESET": "1"}
    skew_s = (time.time_ns() // 1_000_000 - _clock_ms(slow)) / 1000
    assert 35 <= skew_s <= 45, f"faketime sets the clock {skew_s:.1f} s behind, not 40"
    _start(network, {skewed: slow})
    submitter = Submitter(network, f"bank-{skewed}", "central-bank")
    reasons = []
    for _ in range(8):
        started = time.monotonic()
        wait_committed_on(network, "beijing", submitter.transfer(skewed), timeout_s=10)
        print(f"a transfer submitted to the slow hub committed in {time.monotonic() - started:.2f} s")
        reasons.append(network.readiness(skewed))
    assert any(code == 503 and "clock" in reason for code, reason in reasons), reasons
    assert not any("alone" in reason for _, reason in reasons), reasons
    assert len(_views(network, HUBS)) == 1
    primary = network.status("beijing")["primary"]
    network.kill(primary)  # a view change: the slow hub must follow the others into the next view
    live = [hub for hub in HUBS if hub != primary]
    for _ in range(3):
        wait_committed_on(network, live[0], submitter.transfer(skewed), timeout_s=20)
    wait_for(lambda: len(_views(network, live)) == 1, what="the slow hub in the others' view")
    assert_same_chain(network, live)


def _clock_ms(env: dict[str, str]) -> int:
    """What a process started with ``env`` reads as the time."""
    program = "import time; print(time.time_ns() // 1_000_000)"
    output = subprocess.run([sys.executable, "-c", program], env={**os.environ, **env}, capture_output=True)
    return int(output.stdout)


def test_one_paused_hub_at_a_time_never_stops_the_network(network: LocalNetwork) -> None:
    """Problem 7: every 8 s one hub is SIGSTOPped and the previous one resumed (never more
    than one down); whole windows used to pass without a commit, and a resumed hub got its
    missing blocks seconds after waking."""
    _start(network)
    submitter = Submitter(network, "bank-beijing", "central-bank")
    wait_committed_on(network, "shanghai", submitter.transfer("beijing"))
    paused: str | None = None
    for window, hub in enumerate(["hangzhou", "beijing", "shanghai", "shenzhen"]):
        if paused is not None:
            network.resume(paused)
        network.pause(hub)
        live = [other for other in HUBS if other != hub]
        if paused is not None:
            woke_s = _wait_caught_up(network, paused, [other for other in live if other != paused])
            print(f"window {window}: {paused} had its missing blocks {woke_s:.2f} s after waking")
        paused = hub
        start_height = network.height(live[0])
        ends = time.monotonic() + 8
        while time.monotonic() < ends:  # light load, to live hubs only
            submitter.transfer(live[int(time.monotonic() * 4) % 3])
            time.sleep(0.4)
        committed = network.height(live[0]) - start_height
        print(f"window {window}: {committed} blocks while {hub} was paused")
        assert committed > 0, f"no block committed in the 8 s {hub} was paused"
    assert paused is not None
    network.resume(paused)
    wait_committed_on(network, paused, submitter.transfer("shanghai"), timeout_s=20)
    assert_same_chain(network, HUBS)


def _wait_caught_up(network: LocalNetwork, hub: str, others: list[str]) -> float:
    woke = time.monotonic()
    target = max(network.height(other) for other in others)
    wait_for(lambda: network.height(hub) >= target, timeout_s=8, what=f"{hub} to catch up")
    return time.monotonic() - woke


def test_a_hub_whose_fetches_all_failed_catches_up_on_a_quiet_network(network: LocalNetwork) -> None:
    """Problem 8: its fetches to all three peers failed, and once they could succeed nothing
    new was committed: the fetch was never restarted and it stayed 142 blocks behind."""
    _start(network)
    lagging = "hangzhou"
    submitter = Submitter(network, "bank-beijing", "central-bank")
    network.isolate(lagging)
    ids = [submitter.transfer(HUBS[index % 3]) for index in range(20)]
    wait_committed_on(network, "beijing", ids[-1])
    others = {hub: {"partitioned": True, "direction": "outbound"} for hub in HUBS[:3]}
    network.heal()
    network.set_link_rules(lagging, others)  # it hears the others, but its requests get lost
    wait_committed_on(network, "beijing", submitter.transfer("beijing"))  # its COMMITs show the gap
    wait_for(
        lambda: network.log_text(lagging).count("state_transfer_failed") >= 3,
        timeout_s=30,
        what=f"{lagging}'s fetches to all three peers to fail",
    )
    time.sleep(2)  # a scenario step: past the retry timer that used to drop the fetch
    network.set_link_rules(lagging, {})  # links work again; nothing new is committed
    healed = time.monotonic()
    target = network.height("beijing")
    wait_for(lambda: network.height(lagging) >= target, timeout_s=20, what=f"{lagging} to catch up")
    print(f"{lagging} caught up {target} blocks {time.monotonic() - healed:.2f} s after its links worked")
    assert_same_chain(network, HUBS)
