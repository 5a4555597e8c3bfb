"""hubledger backup from a running hub in compose, and the restore of docs/operators.md section 7:
a one-off container of the hub's image fills its emptied volume; the hub starts and catches up."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.e2e.compose import ADMIN_TOKEN, REPOSITORY
from tests.e2e.network import HubNetwork

RESTORE = (
    "find /var/lib/hubledger -mindepth 1 -delete"
    " && hubledger restore /backup/beijing.hlbackup --data-dir /var/lib/hubledger"
)


def test_a_hub_restored_from_an_online_backup_catches_up(network: HubNetwork, tmp_path: Path) -> None:
    network.transfer(via="shanghai")
    backups = tmp_path / "backups"
    backups.mkdir()
    backups.chmod(0o755)
    tls = network.compose.network_dir / "tls"  # as docs/operators.md: the CA and the operator's certificate
    made = subprocess.run(
        [sys.executable, "-m", "hubledger_tools.cli", "backup", "--node", network.url("beijing"),
         "--ca", str(tls / "ca.crt"), "--cert", str(tls / "clients" / "operator-beijing.crt"),
         "--admin-token", ADMIN_TOKEN, "--out", str(backups / "beijing.hlbackup")],
        capture_output=True, text=True, timeout=120, cwd=REPOSITORY, check=False,
    )
    assert made.returncode == 0, made.stderr
    (backups / "beijing.hlbackup").chmod(0o644)  # read by the container's uid 10001
    backed_up_at = int(made.stdout.split(" at height ")[1].split()[0])
    network.transfer(via="shanghai")  # a block the backup does not hold

    compose = network.compose
    compose.compose("stop", "beijing", timeout_s=60)
    # As in docs/operators.md, with -T: no terminal here.
    restored = compose.compose(
        "run", "--rm", "--no-deps", "-T", "-v", f"{backups}:/backup:ro", "--entrypoint", "sh",
        "beijing", "-c", RESTORE,
    )
    assert f"(chain height {backed_up_at})" in restored
    compose.compose("start", "beijing", timeout_s=60)
    network.wait_healthy()
    tip = network.wait_in_sync(height_min=backed_up_at + 1)
    network.assert_same_blocks(network.hubs, tip)
