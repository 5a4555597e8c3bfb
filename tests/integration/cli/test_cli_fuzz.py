"""Every option of every ``hubledger`` subcommand, given a bad value: one line on stderr, status 2.

The subcommands and their options are discovered from the argparse parser, so
a new subcommand or option is covered without touching this file; an option
whose argument type has no bad-value strategy below fails here until it gets
one. Each case gives valid values to every other required argument, so the
bad value alone is what is refused, and names ``--node`` as a live hub and as
a dead address: a value refused locally sends nothing, and the live hub's
height and the signer's nonce prove it at the end. A command with good
arguments and a dead node is one line and status 4 (unreachable).

``main()`` runs in-process with captured stdio (thousands of cases in
seconds); a few real processes check the same from the outside. More
examples: ``make fuzz-cli`` (CLI_FUZZ_EXAMPLES=200; not HUBLEDGER_..., which nodes read as config).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hubledger_client.json_http import http_json
from hubledger_tools.cli import arguments as types
from hubledger_tools.cli.errors import ExitStatus
from tests.integration.cli.cases import (
    CASES,
    COMMANDS,
    Files,
    assert_one_line,
    bad_values,
    build_argv,
    flag_of,
    has_node,
    run_main,
)
from tests.integration.harness import LocalNetwork, signed_get

EXAMPLES = int(os.environ.get("CLI_FUZZ_EXAMPLES", "6"))
DEAD_NODE_URL = "http://127.0.0.1:1"  # nothing listens on port 1: connection refused at once
SIGNER = "central-bank"


# -- fixtures ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def network(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalNetwork]:
    network = LocalNetwork(tmp_path_factory.mktemp("fuzz") / "net", ["beijing"])
    network.start_all()
    with pytest.MonkeyPatch.context() as environment:
        # The commands run in this process find the hub's CA as a user's shell would give it.
        environment.setenv("HUBLEDGER_CA", str(network.ca_file))
        yield network
    network.stop_all()


@pytest.fixture(scope="module")
def files(network: LocalNetwork, tmp_path_factory: pytest.TempPathFactory) -> Files:
    scratch = tmp_path_factory.mktemp("files")
    text = scratch / "notes.txt"
    text.write_text("not a key\n")
    return Files(
        key=network.directory / "accounts" / f"{SIGNER}.pem",
        text=text,
        scenario=Path(__file__).resolve().parents[3] / "scenarios" / "primary-crash.toml",
        network=network.directory,
        missing=scratch / "no-such-directory" / "file",
    )


def get_signer_state(network: LocalNetwork) -> tuple[int, int]:
    """(chain height, the signer's nonce): what a transaction that reached the hub would move."""
    key = network.account_key(SIGNER)
    _, account = signed_get(network, "beijing", f"/v1/accounts/{key.public_key.address.hex()}", key)
    return network.height("beijing"), int(account["pending_nonce"])


# Where a command that accepted all its arguments starts its long work. A bad value that got this
# far would start a network or a sweep; the test stops there and names the case instead.
LONG_RUNS = (
    ("hubledger_tools.bench.run", "run_bench"),
    ("hubledger_tools.cli.chaos", "run_scenario"),
    ("hubledger_tools.localnet", "run_localnet"),
    ("hubledger_tools.cli.network", "generate_network"),
    ("hubledger_tools.cli.simulate", "run_simulation"),
    ("node.runner", "configure_logging"),  # the first step once config, genesis and key are read
)


class AcceptedBadValue(Exception):
    """Raised when a command starts its work although one of its arguments is bad."""


@pytest.fixture
def no_long_runs(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise AcceptedBadValue("the command accepted its arguments and started its work")

    for module, name in LONG_RUNS:
        monkeypatch.setattr(f"{module}.{name}", refuse)


# -- the tests -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "parser", "action"),
    CASES,
    ids=[f"{' '.join(path)} {flag_of(action)}" for path, _, action in CASES],
)
def test_a_bad_value_is_one_line_and_status_2(
    path: tuple[str, ...],
    parser: argparse.ArgumentParser,
    action: argparse.Action,
    network: LocalNetwork,
    files: Files,
    no_long_runs: None,
) -> None:
    before = get_signer_state(network)
    nodes = [network.url("beijing"), DEAD_NODE_URL] if has_node(parser) else [DEAD_NODE_URL]

    @settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), database=None)
    @given(value=bad_values(action, files), node=st.sampled_from(nodes))
    def check(value: str, node: str) -> None:
        argv = build_argv(path, parser, action, value, files, node)
        status, _, err = run_main(argv)
        assert_one_line(err, status, ExitStatus.BAD_ARGUMENTS, argv)
        assert flag_of(action) in err, f"the error does not name {flag_of(action)}: {err}"

    check()
    assert get_signer_state(network) == before, "a refused argument reached the hub"


FILE_TYPES = (types.existing_file, types.ca_certificate, types.certificate_file, types.certificate_key_file)
FILE_CASES = [(path, parser, action) for path, parser, action in CASES if action.type in FILE_TYPES]
# Not empty: an empty scenario is a valid one (every field has a default).
WRONG_CONTENTS = {"binary": bytes(range(256)) * 4, "deep": b"[" * 100_000, "text": b"x = 1\n"}


@pytest.mark.parametrize(
    ("path", "parser", "action"),
    FILE_CASES,
    ids=[f"{' '.join(path)} {flag_of(action)}" for path, _, action in FILE_CASES],
)
def test_a_file_of_the_wrong_content_is_one_line(
    path: tuple[str, ...],
    parser: argparse.ArgumentParser,
    action: argparse.Action,
    files: Files,
    tmp_path: Path,
    no_long_runs: None,
) -> None:
    for name, content in WRONG_CONTENTS.items():
        wrong = tmp_path / name
        wrong.write_bytes(content)
        argv = build_argv(path, parser, action, str(wrong), files, DEAD_NODE_URL)
        status, _, err = run_main(argv)
        expected = ExitStatus.FAILED if status == ExitStatus.FAILED else ExitStatus.BAD_ARGUMENTS
        assert_one_line(err, status, expected, argv)  # 1: the file was read and does not verify


NODE_COMMANDS = [(path, parser) for path, parser in COMMANDS if has_node(parser)]


@pytest.mark.parametrize(("path", "parser"), NODE_COMMANDS, ids=[" ".join(path) for path, _ in NODE_COMMANDS])
def test_good_arguments_and_a_dead_node_are_one_line_and_status_4(
    path: tuple[str, ...], parser: argparse.ArgumentParser, files: Files
) -> None:
    help_action = next(action for action in parser._actions if action.nargs == 0)
    argv = build_argv(path, parser, help_action, "", files, DEAD_NODE_URL)[
        : -2 if help_action.option_strings else -1
    ]
    status, _, err = run_main(argv)
    assert_one_line(err, status, ExitStatus.UNREACHABLE, argv)
    assert "connection refused" in err


def hubledger(*argv: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "hubledger_tools.cli", *argv]
    return subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)


def test_the_issues_node_urls_in_real_processes(network: LocalNetwork, files: Files) -> None:
    config = tomllib.loads((network.directory / "beijing.toml").read_text())
    peer_url = f"http://127.0.0.1:{config['p2p']['port']}"
    key, to = str(files.key), "@" + str(files.key)
    before = get_signer_state(network)
    for command in (
        ["status"],
        ["transfer", "--key", key, "--to", to, "--amount", "1"],
        ["balance", "--key", key],
        ["export", "--out", str(files.network / "chain.jsonl")],
    ):
        for url, expected in (("127.0.0.1:8101", 2), ("http://[::1", 2), (peer_url, ExitStatus.UNREACHABLE)):
            done = hubledger(*command, "--node", url)
            assert_one_line(done.stderr, done.returncode, expected, [*command, "--node", url])
    for amount in ("0", "-5", str(2**63)):
        done = hubledger(
            "transfer", "--key", key, "--to", to, "--amount", amount, "--node", network.url("beijing")
        )
        assert_one_line(done.stderr, done.returncode, 2, ["transfer", "--amount", amount])
        assert "--amount" in done.stderr and "fen" in done.stderr
    assert get_signer_state(network) == before, "a refused amount burnt a block or a nonce"


def test_readers_print_units_and_no_python_reprs(network: LocalNetwork, files: Files) -> None:
    node = network.url("beijing")
    key = str(files.key)
    for command in (
        ["status"],
        ["balance", "--key", key],
        ["account", "--key", key],
        ["dvps", "--key", key],
        ["escrows", "--key", key],
        ["contracts"],
    ):
        argv = [*command, "--node", node] if command[0] != "contracts" else command
        status, out, err = run_main(argv)
        assert status == 0 and not err, err
        assert "{'" not in out and "None" not in out, (
            f"hubledger {' '.join(command)} printed a Python repr:\n{out}"
        )
        status, out, _ = run_main([*argv, "--json"])
        assert status == 0 and json.loads(out) is not None
    _, out, _ = run_main(["balance", "--key", key, "--node", node])
    assert out.rstrip().endswith(" fen")
    _, out, _ = run_main(["account", "--key", key, "--node", node])
    assert "transfer_max" in out and "no limit" in out
    assert http_json(node + "/healthz")[0] == 200


def test_tx_asks_every_hub_given_and_says_unknown_with_its_own_status(network: LocalNetwork) -> None:
    never_sent = "00" * 32
    nodes = f"{DEAD_NODE_URL},{network.url('beijing')}"  # the dead one is passed over
    status, out, err = run_main(["tx", never_sent, "--node", nodes])
    assert (status, err) == (ExitStatus.UNKNOWN, "")
    assert out.startswith(f"transaction {never_sent}: unknown")
    status, out, _ = run_main(["tx", never_sent, "--node", nodes, "--json"])
    assert status == ExitStatus.UNKNOWN and json.loads(out)["status"] == "unknown"
