"""A bounded systematic explorer for four validators, in the spirit of Twins.

Twins (Bano et al., 2020) tests a BFT protocol by enumerating, round by round,
which nodes can hear which and who leads, and running every case against the
real code. Here a round is a view: each case picks, for each of the first
``views`` views, one network rule and one crash, and the rule applies to the
messages *of that view*, whenever they are sent (a VIEW-CHANGE belongs to the
view it leaves, a state-transfer answer to the view its asker is in):

- no fault;
- the COMMITs of the view reach only replica r (they are lost to the others);
- replica r is cut off for the view (both ways, state transfer included);
- (wide) the PREPAREs of the view reach only replica r;
- (pairs) replica r's VIEW-CHANGE leaving the view is lost to the next primary;
  and in the pairs scope a view may hold two of these rules at once, since a
  fault that one rule alone cannot cause may need two;

and, from view 1 on, either no crash or: the view's primary crashes right after
it sends its NEW-VIEW and restarts ``RESTART_MS`` later. The wide scope also
lets any replica r crash right after its VIEW-CHANGE leaving the view, to
restart ``LATE_RESTART_MS`` later. Who leads follows:
a view whose primary is cut off or stalled fails, and the next primary leads.
Each case runs the real ``Replica`` with its invariants checked after every
step, then heals and checks liveness per request and per view. A case is a
number, so a counterexample replays as ``hubledger simulate --explore --scope
S --case N``; its seed (network delays, window and checkpoint shape) is the
case number.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

from consensus.simulation.faults import Crash, FaultPlan, Loss, isolate
from consensus.simulation.records import SimulationConfig

NODES = 4
RESTART_MS = 30
LATE_RESTART_MS = 500
NEW_PRIMARY = -1  # the crash choice "the view's primary, after its NEW-VIEW"; None: no crash
FAULTS_END_MS = 4_000
TRANSACTIONS = 12
LIVENESS_MS = 12_000


@dataclass(frozen=True)
class Rule:
    name: str  # "none", "commits-only-to", "prepares-only-to", "view-change-lost", "isolate"
    replica: int = -1
    also: Rule | None = None  # a second rule in force in the same view

    def __str__(self) -> str:
        own = self.name if self.replica < 0 else f"{self.name} {self.replica}"
        return own if self.also is None else f"{own} + {self.also}"

    def get_losses(self, view: int) -> tuple[Loss, ...]:
        also = self.also.get_losses(view) if self.also is not None else ()
        return self._get_own_losses(view) + also

    def _get_own_losses(self, view: int) -> tuple[Loss, ...]:
        everyone = frozenset(range(NODES))
        if self.name == "view-change-lost":
            next_primary = frozenset({(view + 1) % NODES}) - {self.replica}
            kinds = frozenset({"view_change"})
            return (Loss(receivers=next_primary, senders=frozenset({self.replica}), kinds=kinds, view=view),)
        if self.name == "commits-only-to":
            return (Loss(receivers=everyone - {self.replica}, kinds=frozenset({"commit"}), view=view),)
        if self.name == "prepares-only-to":
            return (Loss(receivers=everyone - {self.replica}, kinds=frozenset({"prepare"}), view=view),)
        if self.name == "isolate":
            return isolate(self.replica, NODES, view=view)
        return ()


# The view's rule, and its crash: None, NEW_PRIMARY, or the replica that crashes after its VIEW-CHANGE.
Choice = tuple[Rule, int | None]


@dataclass(frozen=True)
class Scope:
    name: str
    views: int
    rules: tuple[Rule, ...]
    faulty_views_max: int | None = None  # views with a rule or a crash, at most (None: all may)
    crash_after_view_change: bool = False  # any replica may crash right after its VIEW-CHANGE
    later_rules: tuple[Rule, ...] | None = None  # the rules of views after the first (None: rules)

    def get_choices(self, view: int) -> list[Choice]:
        crashes: list[int | None] = [None, NEW_PRIMARY] if view > 0 else [None]
        if self.crash_after_view_change:
            crashes += list(range(NODES))
        rules = self.rules if view == 0 or self.later_rules is None else self.later_rules
        return [(rule, crash) for rule in rules for crash in crashes]

    @functools.cached_property
    def _cases(self) -> list[tuple[Choice, ...]]:
        cases: list[tuple[Choice, ...]] = [()]
        for view in range(self.views):
            cases = [(*case, choice) for choice in self.get_choices(view) for case in cases]
        if self.faulty_views_max is None:
            return cases
        return [case for case in cases if _count_faulty(case) <= self.faulty_views_max]

    @property
    def cases(self) -> int:
        return len(self._cases)


def _count_faulty(case: tuple[Choice, ...]) -> int:
    return sum(1 for rule, crash in case if rule.name != "none" or crash is not None)


def _rules(*names: str) -> tuple[Rule, ...]:
    return (Rule("none"), *(Rule(name, replica) for name in names for replica in range(NODES)))


def _pairs(*names: str) -> tuple[Rule, ...]:
    """No rule, one rule, or two different rules at once."""
    singles = _rules(*names)[1:]
    pairs = [
        Rule(first.name, first.replica, also=second)
        for index, first in enumerate(singles)
        for second in singles[index + 1 :]
    ]
    return (Rule("none"), *singles, *pairs)


SCOPES = {
    "small": Scope("small", views=2, rules=_rules("commits-only-to", "isolate")),
    "default": Scope("default", views=3, rules=_rules("commits-only-to", "isolate"), faulty_views_max=2),
    # Two rules in one view (a VIEW-CHANGE lost to the next primary among them); then cut-offs
    # and the new primary's restart.
    "pairs": Scope(
        "pairs",
        views=2,
        rules=_pairs("commits-only-to", "view-change-lost"),
        later_rules=_rules("isolate"),
    ),
    "wide": Scope(
        "wide",
        views=2,
        rules=_rules("commits-only-to", "prepares-only-to", "isolate"),
        crash_after_view_change=True,
    ),
}


def get_case(scope: Scope, number: int) -> tuple[Choice, ...]:
    """The choice of each view in case ``number`` (view 0 varies fastest)."""
    if not 0 <= number < scope.cases:
        raise ValueError(f"scope {scope.name} has cases 0 to {scope.cases - 1}")
    return scope._cases[number]


def describe_case(scope: Scope, number: int) -> tuple[str, ...]:
    return tuple(
        f"view {view}: {rule}{_describe_crash(crash)}"
        for view, (rule, crash) in enumerate(get_case(scope, number))
    )


def _describe_crash(crash: int | None) -> str:
    if crash is None:
        return ""
    if crash == NEW_PRIMARY:
        return ", its primary restarts after its NEW-VIEW"
    return f", {crash} crashes after its VIEW-CHANGE leaving it"


def _make_crash(view: int, crash: int) -> Crash:
    if crash == NEW_PRIMARY:
        return Crash(validator=view % NODES, restart_after_ms=RESTART_MS, view=view)
    return Crash(validator=crash, restart_after_ms=LATE_RESTART_MS, after_kind="view_change", view=view + 1)


def make_case_config(scope: Scope, number: int, *, view_floor_enforced: bool = True) -> SimulationConfig:
    losses: list[Loss] = []
    crashes: list[Crash] = []
    for view, (rule, crash) in enumerate(get_case(scope, number)):
        losses += rule.get_losses(view)
        if crash is not None:
            crashes.append(_make_crash(view, crash))
    plan = FaultPlan(
        faults_end_ms=FAULTS_END_MS,
        losses=tuple(losses),
        crashes=tuple(crashes),
        transactions=TRANSACTIONS,
        description=describe_case(scope, number),
    )
    replay = f"hubledger simulate --explore --scope {scope.name} --case {number}"
    if not view_floor_enforced:
        replay += " --no-view-floor"
    return SimulationConfig(
        seed=number,
        nodes=NODES,
        plan=plan,
        replay=replay,
        liveness_ms=LIVENESS_MS,
        view_floor_enforced=view_floor_enforced,
    )
