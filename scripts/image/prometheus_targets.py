"""Start Prometheus scraping every hub of a HubLedger network: the entry point of hubledger/prometheus.

The hubs are the validators of the network's genesis.json, each reached in
compose at its service name on the client API port, so a four-hub and a
seven-hub network need no configuration of their own. The targets go to a
file_sd file that prometheus.yml reads; then this process becomes Prometheus.

Usage: python3 prometheus_targets.py GENESIS_JSON TARGETS_JSON API_PORT -- PROMETHEUS [ARGUMENTS...]
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path


def get_targets(genesis: dict[str, object], api_port: int) -> list[dict[str, object]]:
    """One file_sd group: every validator at <name>:<api_port>, labelled instance=<name>."""
    validators = genesis.get("validators")
    if not isinstance(validators, list) or not validators:
        raise ValueError("genesis.json lists no validators")
    groups: list[dict[str, object]] = []
    for validator in validators:
        name = validator.get("name") if isinstance(validator, dict) else None
        if not isinstance(name, str) or not name.isidentifier():
            raise ValueError(f"genesis.json has a validator without a usable name: {validator!r}")
        groups.append({"targets": [f"{name}:{api_port}"], "labels": {"instance": name}})
    return groups


def main(argv: list[str]) -> int:
    if len(argv) < 6 or argv[4] != "--" or not argv[3].isdigit():
        print((__doc__ or "").strip().splitlines()[-1], file=sys.stderr)
        return 2
    genesis_path, targets_path, api_port = Path(argv[1]), Path(argv[2]), int(argv[3])
    try:
        groups = get_targets(json.loads(genesis_path.read_text(encoding="utf-8")), api_port)
    except (OSError, ValueError) as error:
        print(f"prometheus_targets: cannot read the hubs from {genesis_path}: {error}", file=sys.stderr)
        return 1
    targets_path.parent.mkdir(parents=True, exist_ok=True)
    targets_path.write_text(json.dumps(groups, indent=2) + "\n", encoding="utf-8")
    names = ", ".join(str(group["targets"][0]) for group in groups)  # type: ignore[index]
    print(f"prometheus_targets: scraping {names}", file=sys.stderr)
    os.execv(argv[5], argv[5:])


if __name__ == "__main__":
    sys.exit(main(sys.argv))
