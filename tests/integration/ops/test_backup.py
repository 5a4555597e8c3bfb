"""Online backup and restore on real processes: a hub backed up while the network commits,
wiped, restored from the file, rejoins the others and its chain verifies offline."""

from __future__ import annotations

import shutil
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.harness import (
    ADMIN_TOKEN,
    LocalNetwork,
    Submitter,
    assert_same_chain,
    run_cli,
    wait_committed_on,
    wait_for,
)

HUBS = ["beijing", "shanghai", "shenzhen", "hangzhou"]
pytestmark = pytest.mark.integration



def operator_certificate(network: LocalNetwork, hub: str) -> str:
    """The client certificate of ``hub``'s operator, which admin endpoints want besides the token."""
    return str(network.directory / "tls" / "clients" / f"operator-{hub}.crt")


class Load:
    """Transfers submitted round-robin through the hubs that stay up, until stopped, in
    rounds of WINDOW: a round waits for the commit of its last transfer, so the sender never
    runs the node's nonce window out."""

    WINDOW = 20

    def __init__(self, network: LocalNetwork, hubs: list[str]) -> None:
        self._network = network
        self._submitter = Submitter(network, "bank-beijing", "bank-shanghai")
        self._hubs = hubs
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self.ids: list[str] = []
        self.error: BaseException | None = None

    def _run(self) -> None:
        try:
            while not self._stop.is_set():
                hub = self._hubs[len(self.ids) % len(self._hubs)]
                self.ids.append(self._submitter.transfer(hub))
                if len(self.ids) % self.WINDOW == 0:
                    wait_committed_on(self._network, hub, self.ids[-1])
        except BaseException as error:  # reported by stop()
            self.error = error

    def __enter__(self) -> Load:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join(timeout=30)
        assert self.error is None, f"the load failed: {self.error}"


@pytest.fixture
def network(tmp_path: Path) -> Iterator[LocalNetwork]:
    network = LocalNetwork(tmp_path / "net", HUBS, env={"HUBLEDGER_ADMIN_TOKEN": ADMIN_TOKEN})
    network.start_all()
    yield network
    network.stop_all()


def test_a_hub_backed_up_under_load_is_restored_rejoins_and_verifies(
    network: LocalNetwork, tmp_path: Path
) -> None:
    backup = tmp_path / "shenzhen.hlbackup"
    with Load(network, ["beijing", "shanghai", "hangzhou"]) as load:
        wait_for(lambda: network.height("shenzhen") >= 5, what="shenzhen to commit 5 blocks under load")
        submitted_before = len(load.ids)
        made = run_cli(network, "backup", "--node", network.url("shenzhen"), "--admin-token", ADMIN_TOKEN,
                         "--cert", operator_certificate(network, "shenzhen"), "--out", str(backup))
        assert made.returncode == 0, made.stderr
        assert "backed up" in made.stdout and backup.stat().st_size > 0
        backed_up_at = int(made.stdout.split(" at height ")[1].split()[0])
        assert backed_up_at >= 5
        wait_for(lambda: network.height("beijing") >= backed_up_at + 3, what="blocks after the backup")

        network.kill("shenzhen")
        data_dir = network.directory / "data" / "shenzhen"
        shutil.rmtree(data_dir)
        restored = run_cli(network, "restore", str(backup), "--data-dir", str(data_dir))
        assert restored.returncode == 0, restored.stderr
        assert f"(chain height {backed_up_at})" in restored.stdout
        network.start("shenzhen")
        # Transfers kept coming through the backup and the restore, and keep coming as it rejoins.
        wait_for(lambda: len(load.ids) >= submitted_before + 2 * Load.WINDOW, what="transfers under load")

    # It catches up from its peers, from the backup's height, to the same chain as theirs.
    height = assert_same_chain(network, HUBS)
    assert height > backed_up_at
    exported = tmp_path / "chain.jsonl"
    done = run_cli(network, "export", "--node", network.url("shenzhen"), "--out", str(exported))
    assert done.returncode == 0, done.stderr
    genesis = str(network.directory / "genesis.json")
    verified = run_cli(network, "verify-chain", str(exported), "--genesis", genesis, "--quiet")
    assert verified.returncode == 0, verified.stderr
    assert "verified" in verified.stdout


def test_backup_and_restore_refuse_with_one_sentence(network: LocalNetwork, tmp_path: Path) -> None:
    beijing = operator_certificate(network, "beijing")
    refused = run_cli(network, "backup", "--node", network.url("beijing"), "--admin-token", "wrong",
                        "--cert", beijing, "--out", str(tmp_path / "b"))
    assert refused.returncode == 2
    assert refused.stderr.count("\n") == 1 and "BAD_ADMIN_TOKEN" in refused.stderr
    assert not (tmp_path / "b").exists() and not (tmp_path / "b.partial").exists()
    # The token alone, or with another hub's operator certificate, is not enough over TLS.
    for certificate in ([], ["--cert", operator_certificate(network, "shanghai")]):
        refused = run_cli(network, "backup", "--node", network.url("beijing"), "--admin-token", ADMIN_TOKEN,
                            *certificate, "--out", str(tmp_path / "b"))
        assert refused.returncode == 2, refused.stderr
        assert refused.stderr.count("\n") == 1 and "OPERATOR_CERTIFICATE_REQUIRED" in refused.stderr
        assert "--cert" in refused.stderr and not (tmp_path / "b").exists()

    good = tmp_path / "beijing.hlbackup"
    assert run_cli(network, "backup", "--node", network.url("beijing"), "--admin-token", ADMIN_TOKEN,
                     "--cert", beijing, "--out", str(good)).returncode == 0
    data_dir = str(network.directory / "data" / "beijing")
    in_use = run_cli(network, "restore", str(good), "--data-dir", data_dir)
    assert in_use.returncode == 2
    assert in_use.stderr.count("\n") == 1 and "stop the hub" in in_use.stderr
    assert network.height("beijing") >= 0  # still serving from its own, untouched database
