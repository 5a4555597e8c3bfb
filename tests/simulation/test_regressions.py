"""Seeds that once failed, pinned: each replays the schedule that found a bug.

Add a line whenever a sweep finds a failing seed, with what it found; the
fix is proven by the seed passing from then on.
"""

from __future__ import annotations

import random

import pytest

from consensus.simulation.explorer import SCOPES, make_case_config
from consensus.simulation.faults import Crash, FaultPlan
from consensus.simulation.simulator import SimulationConfig
from consensus.simulation.swarm import draw_swarm_config
from hubledger_tools.cli.simulate import get_replay_command
from hubledger_tools.simulation import run_simulation

PINNED = [
    # Liveness: a replica that left view v before its VIEW-CHANGE(v) reached the others never
    # said so again, and the others waited for a quorum wanting v forever. A VIEW-CHANGE for a
    # higher view now counts as wanting to leave v
    # (_arm_view_change_timer in consensus/replica/view_changes.py).
    SimulationConfig(seed=10, byzantine=("silent",)),
    SimulationConfig(seed=24, byzantine=("silent",)),
    SimulationConfig(seed=34, byzantine=("silent",)),
    SimulationConfig(seed=46, byzantine=("silent",)),
    SimulationConfig(seed=54, byzantine=("silent",)),
    # Evidence: a replica that refused one of an equivocating primary's two proposals first
    # (its parent was the other fork) kept no trace of it and recorded no evidence when the
    # other arrived. Refused proposals are now kept for the view (consensus/replica/ordering.py).
    SimulationConfig(seed=19, byzantine=("equivocate",)),
    # Liveness: a restarted replica that joined a view by its NEW-VIEW, while ordering an older
    # view, kept the older view's progress timer as armed; it fired for a gone view and the
    # replica never fetched the blocks it missed. Entering a view now re-arms its timers.
    SimulationConfig(seed=9, byzantine=("stale-view",)),
    # Evidence (the checker was too strict): a restarted replica two blocks behind dropped both
    # of an equivocating primary's proposals as beyond its window, unread, and the checker still
    # expected evidence. It now counts a conflict only between messages the replica admitted to
    # its view and window, and forgets what a replica saw before it restarted.
    SimulationConfig(seed=109, byzantine=("equivocate",)),
    # Liveness: a replica that missed the COMMITs of blocks its peers committed had no way to
    # learn it. After a view change the peers skipped the re-proposals of those heights and
    # dropped its votes as stale; with the next checkpoint out of reach (it needed this replica's
    # votes, or no load came) it climbed views alone. A replica that leaves a view, or waits
    # alone for a view change, now asks its peers for blocks (consensus/replica/catch_up.py). Seed 136
    # (crash) left its views by the request timer, which at first did not ask.
    SimulationConfig(seed=109, byzantine=("crash",)),
    SimulationConfig(seed=109, byzantine=("corrupt",)),
    SimulationConfig(seed=105, byzantine=("withhold",)),
    SimulationConfig(seed=136, byzantine=("crash",)),
]


@pytest.mark.parametrize("config", PINNED, ids=get_replay_command)
def test_pinned_seed_passes(config: SimulationConfig) -> None:
    result = run_simulation(config)
    assert result.is_ok, f"{get_replay_command(config)}: {result.violations}"


# Found by the explorer and the swarm on the replica of 3eec0ad (issue 14); each passes once the
# fix lands, and stays pinned from then on.
PINNED_FORKS = [
    # Problem 1: view 0's COMMITs reach replica 0 alone; replica 0 is cut off in view 1 after
    # its VIEW-CHANGE proved height 1 final; view 1's primary restarts right after its NEW-VIEW,
    # forgets that floor and proposes a new block at height 1, which replicas 2 and 3 commit.
    make_case_config(SCOPES["small"], 100),
    # The same fork, drawn by the swarm (COMMITs of view 0 only to replica 2, replica 2 cut off
    # in view 1, view 1's primary restarting 1 ms after its NEW-VIEW; a double-voting validator).
    draw_swarm_config(311, random.Random(311)),
    # Problem 1 on purpose: a below-floor-primary leading view 1 proposes and commits a block at
    # height 1 after its NEW-VIEW proved height 1 final; two commit certificates at height 1.
    draw_swarm_config(1112, random.Random(1112)),
    # An honest primary signs two PRE-PREPAREs for one (view, height): view 3's primary re-proposes
    # a prepared block at height 6 in its NEW-VIEW, crashes 1 ms later and, restarted, proposes a
    # new block at height 6 in view 3 (its re-proposal is in its log, its next height is not).
    # The honest replicas record evidence against it. Shrunk from a swarm seed of an earlier draw.
    SimulationConfig(
        seed=305,
        byzantine=("double-vote",),
        liveness_ms=30_000,
        plan=FaultPlan(
            faults_end_ms=8_000,
            crashes=(
                Crash(validator=0, restart_after_ms=3_000, at_ms=2_894),
                Crash(validator=2, restart_after_ms=30, view=2),
                Crash(validator=3, restart_after_ms=1, view=3),
            ),
            transactions=12,
        ),
        replay="pytest tests/simulation/test_regressions.py -k restarted-primary-3",
    ),
    # The same, drawn by the final swarm: view 3's primary re-proposes a view-0 block at height 2 in
    # its NEW-VIEW, restarts 30 ms later and proposes a new block at height 2 in view 3.
    draw_swarm_config(786, random.Random(786)),
]


@pytest.mark.needs_floor_fix
@pytest.mark.parametrize("config", PINNED_FORKS, ids=get_replay_command)
def test_pinned_fork_is_closed(config: SimulationConfig) -> None:
    result = run_simulation(config)
    assert result.is_ok, f"{get_replay_command(config)}: {result.violations}"


# Healed networks that stayed broken, found by the swarm and the explorer once the forks were
# closed (issue 14, problems 5 to 8); each failed on the replica before its fix.
PINNED_LIVENESS = [
    # A request given up as inadmissible while its predecessor was in a partition: stranded.
    make_case_config(SCOPES["small"], 6),
    # A replica left alone in a view change after the heal: the others now join it.
    make_case_config(SCOPES["small"], 7),
    # The new primary restarted and lost its NEW-VIEW; a replica that missed it waited for good.
    make_case_config(SCOPES["small"], 104),
    # A replica that caught up by state transfer stayed in its old view on a quiet network.
    draw_swarm_config(895, random.Random(895)),
    draw_swarm_config(1288, random.Random(1288)),
    draw_swarm_config(2516, random.Random(2516)),
    # A future-view validator asking alone for view 66 dragged two honest replicas there, past the
    # reach of the third, left in view 1: a replica alone is now joined in the next view only.
    draw_swarm_config(7089, random.Random(7089)),
]


@pytest.mark.parametrize("config", PINNED_LIVENESS, ids=get_replay_command)
def test_pinned_liveness_failure_stays_fixed(config: SimulationConfig) -> None:
    result = run_simulation(config)
    assert result.is_ok, f"{get_replay_command(config)}: {result.violations}"
