"""The verdict, read through the public API of the honest hubs once everything has healed.

- same chain: every honest hub holds the same block hash at every height;
- acknowledged: every transfer some hub reported committed is committed on every honest hub;
- conservation: every honest hub reports one total supply, equal to the balances of all
  genesis accounts plus what escrow holds (read with the central bank's signed reads);
- evidence: honest hubs hold evidence naming each validator the scenario made equivocate;
- stall: where the scenario expects no progress (a split), no honest hub committed.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from hubledger_tools.chaos.cluster import ChaosCluster, http_json
from ledger.read_auth import sign_read

CONVERGE_TIMEOUT_S = 45.0


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str


def wait_converged(cluster: ChaosCluster, hubs: list[str]) -> int:
    """The common height once every honest hub reports the same one (0 at the deadline)."""
    deadline = time.monotonic() + CONVERGE_TIMEOUT_S
    while time.monotonic() < deadline:
        try:
            heights = {get_height(cluster, hub) for hub in hubs}
        except (OSError, ValueError):
            heights = set()
        if len(heights) == 1:
            time.sleep(0.5)  # and still the same a moment later: nothing was in flight
            if {get_height(cluster, hub) for hub in hubs} == heights:
                return heights.pop()
        time.sleep(0.25)
    return 0


def get_height(cluster: ChaosCluster, hub: str) -> int:
    code, status = http_json(cluster.url(hub) + "/v1/status")
    if code != 200:
        raise ValueError(f"{hub} status answered {code}")
    return int(status["height"])


def check_same_chain(cluster: ChaosCluster, hubs: list[str], height: int) -> Check:
    if height == 0:
        heights = {hub: _safe_height(cluster, hub) for hub in hubs}
        return Check("same_chain", False, f"honest hubs never reached one height: {heights}")
    for block in range(1, height + 1):
        hashes = {hub: http_json(f"{cluster.url(hub)}/v1/blocks/{block}")[1]["hash"] for hub in hubs}
        if len(set(hashes.values())) != 1:
            return Check("same_chain", False, f"height {block} differs: {hashes}")
    return Check("same_chain", True, f"{len(hubs)} honest hubs hold the same {height} blocks")


def _safe_height(cluster: ChaosCluster, hub: str) -> int | str:
    try:
        return get_height(cluster, hub)
    except (OSError, ValueError) as error:
        return str(error)


def check_acknowledged(cluster: ChaosCluster, hubs: list[str], acknowledged: dict[str, str]) -> Check:
    for transaction_id in acknowledged:
        for hub in hubs:
            code, record = http_json(f"{cluster.url(hub)}/v1/transactions/{transaction_id}")
            if code != 200 or record.get("status") != "committed":
                return Check("acknowledged", False, f"{transaction_id[:16]} acknowledged but not on {hub}")
    return Check("acknowledged", True, f"all {len(acknowledged)} acknowledged transfers on every honest hub")


def check_conservation(cluster: ChaosCluster, hubs: list[str]) -> Check:
    reader = cluster.account_key("central-bank")
    supplies = {hub: http_json(cluster.url(hub) + "/v1/supply")[1] for hub in hubs}
    totals = {supply["total_supply"] for supply in supplies.values()}
    if len(totals) != 1:
        return Check("conservation", False, f"hubs disagree on total supply: {supplies}")
    hub = hubs[0]
    held = 0
    for account in cluster.genesis.accounts:
        held += int(_signed_get(cluster, hub, f"/v1/accounts/{account.address.hex()}", reader)["balance"])
    total = totals.pop()
    locked = int(supplies[hub]["locked_in_escrow"])
    if held + locked != total:
        return Check("conservation", False, f"supply {total} but accounts hold {held} and escrow {locked}")
    return Check("conservation", True, f"supply {total} = balances {held} + escrow {locked}")


def _signed_get(cluster: ChaosCluster, hub: str, path: str, key: Any) -> Any:
    headers = sign_read(
        key,
        chain_id=cluster.genesis.chain_id,
        method="GET",
        path=path,
        timestamp_ms=time.time_ns() // 1_000_000,
    )
    code, document = http_json(cluster.url(hub) + path, headers=headers, timeout_s=5.0)
    if code != 200:
        raise OSError(f"{hub} answered {code} to {path}: {document}")
    return document


def check_evidence(
    cluster: ChaosCluster, hubs: list[str], against: tuple[str, ...], faulty: set[str]
) -> Check:
    names = [validator.name for validator in cluster.genesis.validators]
    found: set[int] = set()
    for hub in hubs:
        found |= {
            int(item["validator"]) for item in http_json(cluster.url(hub) + "/v1/evidence")[1]["evidence"]
        }
    missing = [name for name in against if names.index(name) not in found]
    if missing:
        return Check("evidence", False, f"no honest hub holds evidence against {', '.join(missing)}")
    blamed = sorted(names[index] for index in found)
    wrongly = [name for name in blamed if name not in faulty]
    if wrongly:
        return Check("evidence", False, f"evidence recorded against honest {', '.join(wrongly)}")
    return Check("evidence", True, f"evidence held against {', '.join(blamed) or 'nobody'}")


def check_stalled(samples: list[dict[str, Any]], hubs: list[str], window: tuple[float, float]) -> Check:
    start_s, end_s = window
    inside = [sample for sample in samples if start_s <= sample["t_s"] <= end_s]
    if len(inside) < 2:
        return Check("stalled", False, f"too few height samples between {start_s} and {end_s} s")
    moved = [hub for hub in hubs if len({sample["heights"].get(hub) for sample in inside} - {None}) > 1]
    if moved:
        return Check("stalled", False, f"{', '.join(moved)} committed during the split {start_s}-{end_s} s")
    return Check("stalled", True, f"no honest hub committed between {start_s} and {end_s} s")
