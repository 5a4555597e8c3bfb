"""`hubledger localnet` on an existing network with other hubs says so in one sentence and stops."""

from __future__ import annotations

import contextlib
import io
from pathlib import Path

from hubledger_tools.cli.main import main
from hubledger_tools.netgen import generate_network

FOUR_HUBS = ["beijing", "shanghai", "shenzhen", "hangzhou"]


def run(argv: list[str]) -> tuple[int, str]:
    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        status = main(argv)
    return status, err.getvalue()


def test_one_hub_asked_of_a_four_hub_network_is_refused_in_one_sentence(tmp_path: Path) -> None:
    directory = tmp_path / ".localnet"
    generate_network(FOUR_HUBS, directory)
    status, err = run(["localnet", "--hubs", "beijing", "--dir", str(directory)])
    assert status == 2
    assert len(err.splitlines()) == 1
    assert "holds a 4-hub network (beijing,shanghai,shenzhen,hangzhou)" in err
    assert "HUBS=beijing,shanghai,shenzhen,hangzhou" in err
    assert not (directory / "data").exists(), "no node was started"


def test_a_hub_the_network_does_not_have_is_refused(tmp_path: Path) -> None:
    directory = tmp_path / "net"
    generate_network(["beijing"], directory)
    status, err = run(["localnet", "--hubs", "beijing,shanghai", "--dir", str(directory)])
    assert status == 2 and "holds a 1-hub network (beijing)" in err
