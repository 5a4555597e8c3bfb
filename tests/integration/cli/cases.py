"""What the CLI fuzz test runs: the subcommands found in the parser, bad and good values for each
argument, and the command line that puts one bad value among good ones."""

from __future__ import annotations

import argparse
import contextlib
import io
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from hypothesis import strategies as st

from hubledger_tools.cli import arguments as types
from hubledger_tools.cli.bench import HUBS as BENCH_HUBS
from hubledger_tools.cli.bench import RATES as BENCH_RATES
from hubledger_tools.cli.main import build_parser, main
from hubledger_tools.cli.network import HUB_LIST
from hubledger_tools.cli.settlement import parse_obligations
from hubledger_tools.cli.submit import call_arguments
from ledger.types import UINT63_MAX


@dataclass(frozen=True)
class Files:
    """What valid and invalid file arguments point at."""

    key: Path  # the signer's PEM key
    text: Path  # an existing file that is no key, no JSON export
    scenario: Path
    network: Path  # a directory holding a network
    missing: Path  # a path in a directory that does not exist


# -- discovery -----------------------------------------------------------------------------------


def iter_commands(
    parser: argparse.ArgumentParser, path: tuple[str, ...] = ()
) -> Iterator[tuple[tuple[str, ...], argparse.ArgumentParser]]:
    subcommands = [action for action in parser._actions if isinstance(action, argparse._SubParsersAction)]
    if not subcommands:
        yield path, parser
        return
    for name, child in subcommands[0].choices.items():
        yield from iter_commands(child, (*path, name))


def value_actions(parser: argparse.ArgumentParser) -> list[argparse.Action]:
    """The arguments that take a value (flags and --help take none)."""
    return [action for action in parser._actions if action.nargs != 0]


COMMANDS = list(iter_commands(build_parser()))
CASES = [(path, parser, action) for path, parser in COMMANDS for action in value_actions(parser)]


def flag_of(action: argparse.Action) -> str:
    """The argument as the user sees it: the option, or the positional's name in the usage line."""
    return action.option_strings[0] if action.option_strings else str(action.metavar or action.dest)


def has_node(parser: argparse.ArgumentParser) -> bool:
    return any("--node" in action.option_strings for action in parser._actions)


# -- values --------------------------------------------------------------------------------------

NOT_NUMBERS = st.one_of(
    st.sampled_from(["", " ", "1.5", "1e3", "0x10", "ten", "1_000", "--", "½", "١٢"]),
    st.text(min_size=1, max_size=12).filter(lambda text: not text.strip().lstrip("-").isdigit()),
)
# Text that no name, list or identifier accepts: somewhere it holds a character none allows.
GARBAGE = st.builds(
    lambda head, bad, tail: head + bad + tail,
    st.text(max_size=6),
    st.sampled_from([*"!$%*?<>|\"'\\;&`", "\x01", "\u202e"]),
    st.text(max_size=6),
)


# What --node refuses, alone or in a comma-separated list.
BAD_NODE_URLS = st.one_of(
    st.sampled_from(
        [
            "127.0.0.1:8101",
            "http://[::1",
            "http://[::1]:99999",
            "ftp://127.0.0.1:8101",
            "http://",
            "http://127.0.0.1:0",
            "http://127.0.0.1:8101/v1/status",
        ]
    ),
    # not only blanks and commas: node_urls skips blank entries between commas
    st.text(max_size=20).filter(lambda text: "://" not in text and text.replace(",", "").strip()),
)
GOOD_NODE_URLS = ["http://127.0.0.1:8101", "https://hub.example:443"]


def is_number(text: str, kind: Callable[[str], object]) -> bool:
    try:
        kind(text)
    except ValueError:
        return False
    return True


def whole_numbers_outside(low: int, high: int) -> st.SearchStrategy[str]:
    return st.one_of(
        st.integers(max_value=low - 1).map(str),
        st.integers(min_value=high + 1, max_value=high * 10**30).map(str),
        NOT_NUMBERS,
    )


def _is_serial(text: str) -> bool:
    value = text.strip().lower().removeprefix("0x")
    return 0 < len(value) <= 40 and all(character in "0123456789abcdef" for character in value)


def paths(files: Files, *chosen: str) -> st.SearchStrategy[str]:
    return st.sampled_from([str(getattr(files, name)) for name in chosen])


def bad_values(action: argparse.Action, files: Files) -> st.SearchStrategy[str]:
    kind = action.type
    if action.choices is not None:
        choices = [str(choice) for choice in action.choices]
        return st.text(max_size=12).filter(lambda text: text not in choices)
    if isinstance(kind, types.WholeNumber):
        return whole_numbers_outside(kind.low, kind.high)
    if isinstance(kind, types.Seconds):
        numbers = st.sampled_from(["nan", "inf", "-inf", "-1", str(kind.high * 2)])
        return st.one_of(NOT_NUMBERS.filter(lambda text: not is_number(text, float)), numbers)
    if kind is int:
        return NOT_NUMBERS.filter(lambda text: not is_number(text, int))
    if kind is None:  # free text checked by the command: names, lists
        return GARBAGE
    strategies: dict[Callable[..., Any], st.SearchStrategy[str]] = {
        types.node_urls: st.one_of(
            BAD_NODE_URLS,
            st.sampled_from(["", ",", " , ,"]),  # no URL at all
            st.tuples(st.sampled_from(GOOD_NODE_URLS), BAD_NODE_URLS).map(",".join),  # one bad among good
            st.tuples(BAD_NODE_URLS, st.sampled_from(GOOD_NODE_URLS)).map(",".join),
        ),
        types.node_url: st.one_of(
            BAD_NODE_URLS,
            st.tuples(st.sampled_from(GOOD_NODE_URLS), st.sampled_from(GOOD_NODE_URLS)).map(",".join),
        ),  # one hub only
        types.admin_token: st.one_of(
            st.just(""),
            st.builds("{}{}".format, st.text(max_size=6), st.sampled_from([" ", "\x01", "\u202e"])),
        ),
        # a path that is missing, a directory, text, or a PEM key instead of a certificate
        types.ca_certificate: st.one_of(paths(files, "missing", "network", "text", "key"), st.just("")),
        types.certificate_file: st.one_of(paths(files, "missing", "network", "text", "key"), st.just("")),
        types.certificate_key_file: st.one_of(paths(files, "missing", "network", "text"), st.just("")),
        types.key_file: st.one_of(paths(files, "text", "missing", "network", "scenario"), GARBAGE),
        types.address: st.one_of(
            st.text(alphabet="0123456789abcdef", max_size=60).filter(lambda text: len(text) != 40),
            st.text(min_size=40, max_size=40).filter(
                lambda text: not all(c in "0123456789abcdefABCDEF" for c in text)
            ),
            paths(files, "text", "missing").map(lambda path: "@" + path),
        ),
        types.public_key: st.one_of(
            st.text(alphabet="0123456789abcdef", max_size=70).filter(lambda text: len(text) != 66),
            st.just("02" + "ff" * 32),  # x beyond the field: no point on P-256
            paths(files, "text", "missing").map(lambda path: "@" + path),
        ),
        types.identifier: st.one_of(GARBAGE, st.just(""), st.just("x" * 65)),
        types.hub_name: st.one_of(GARBAGE, st.just(""), st.just("Beijing")),
        types.name: st.one_of(st.just(""), st.just("n" * 65), st.just("tab\there")),
        types.limit_fen: whole_numbers_outside(1, UINT63_MAX).filter(
            lambda text: text.strip().lower() != "none"
        ),
        types.transaction_id: st.text(alphabet="0123456789abcdefg", max_size=70).filter(
            lambda text: len(text) != 64
        ),
        types.existing_file: st.one_of(paths(files, "missing", "network"), st.just("")),
        types.existing_directory: paths(files, "missing", "text"),
        types.output_file: paths(files, "missing", "network"),
        types.output_directory: paths(files, "missing", "text"),
        types.new_directory: paths(files, "missing", "text", "network"),
        types.new_file: paths(files, "missing", "text", "network"),
        types.host_assignment: st.one_of(
            GARBAGE,
            st.sampled_from(["", "beijing", "beijing=", "=10.0.0.1", "Beijing=10.0.0.1", "beijing=0.0.0.0"]),
            st.sampled_from(["beijing=bad_host", "beijing=a..b", "beijing=" + "a" * 64]),
        ),
        types.party_name: st.one_of(GARBAGE, st.sampled_from(["", "Beijing", "bei jing", "é"])),
        types.dns_name: st.one_of(GARBAGE, st.sampled_from(["", "10.0.0.1", "a..b", "bad_name", "a" * 64])),
        types.ip_address: st.one_of(
            GARBAGE, st.sampled_from(["", "300.1.1.1", "10.0.0", "::g", "hub.example"])
        ),
        types.serial_number: st.one_of(
            GARBAGE, st.sampled_from(["", "zz", "0x", "-1", "1" * 41]), NOT_NUMBERS
        ).filter(lambda text: not _is_serial(text)),
        call_arguments: st.sampled_from(["", "[1]", "{", '{"amount": 1.5}', "1", "[" * 2000]),
        parse_obligations: st.sampled_from(
            ["", "[]", "{}", '[{"from": "x"}]', '[{"from": "00", "to": "00", "amount": 1}]', "@/no/such/file"]
        ),
        HUB_LIST: st.one_of(GARBAGE, st.sampled_from(["", ",", "Beijing", "a,a"])),
        BENCH_HUBS: st.one_of(GARBAGE, st.sampled_from(["0", "65", "a,a"])),
        BENCH_RATES: st.sampled_from(["", "0", "x", "100001", "1.5"]),
    }
    if kind not in strategies:
        name = getattr(kind, "__name__", repr(kind))
        pytest.fail(
            f"{flag_of(action)} has type {name}, which has no bad-value strategy: add one to bad_values"
        )
    return strategies[kind]


def valid_value(action: argparse.Action, files: Files, node_url: str) -> str:
    """A value the command accepts, for the arguments around the bad one."""
    if action.dest == "node":
        return node_url
    by_dest = {"contract": "cbdc", "method": "transfer", "scenarios": str(files.scenario), "role": "hub"}
    if action.dest in by_dest:
        return by_dest[action.dest]
    if isinstance(action.type, types.WholeNumber):
        return str(max(action.type.low, 1))
    by_type: dict[Callable[..., Any], str] = {
        types.key_file: str(files.key),
        types.address: "@" + str(files.key),
        types.public_key: "@" + str(files.key),
        types.identifier: "fuzz-1",
        types.hub_name: "beijing",
        types.name: "Fuzz",
        types.limit_fen: "none",
        types.transaction_id: "00" * 32,
        types.existing_file: str(files.network / "genesis.json"),
        types.output_file: str(files.network / "out.json"),
        types.new_file: str(files.network / "new.pem"),
        types.new_directory: str(files.network / "new"),
        types.output_directory: str(files.network / "restored"),
        types.admin_token: "fuzz-token",
        types.existing_directory: str(files.network),
        types.party_name: "beijing",
        types.ca_certificate: str(files.network / "tls" / "ca.crt"),
        types.certificate_file: str(files.network / "tls" / "clients" / "operator-beijing.crt"),
        parse_obligations: json.dumps([{"from": "00" * 20, "to": "11" * 20, "amount": 1}]),
    }
    return by_type[action.type]  # type: ignore[index]


def build_argv(
    path: tuple[str, ...],
    parser: argparse.ArgumentParser,
    bad: argparse.Action,
    value: str,
    files: Files,
    node: str,
) -> list[str]:
    """The command, the bad value, and valid values for every other required argument."""
    argv = [*path]
    exclusive = {
        id(action)
        for group in parser._mutually_exclusive_groups
        if bad in group._group_actions
        for action in group._group_actions
    }
    for group in parser._mutually_exclusive_groups:  # a required choice is met by its first member
        if group.required and id(group._group_actions[0]) not in exclusive:
            first = group._group_actions[0]
            argv += [first.option_strings[0], valid_value(first, files, node)]
    positionals = [action for action in parser._actions if not action.option_strings]
    before_bad = positionals[: positionals.index(bad)] if bad in positionals else []
    values: list[str] = []  # the positionals, in order, after every option
    for action in parser._actions:
        if id(action) in exclusive or action.nargs == 0:
            continue
        if any(action in group._group_actions for group in parser._mutually_exclusive_groups):
            continue
        if action is bad:
            if not action.option_strings:
                values.append(value)
            continue
        # a bad NAME needs a good ROLE before it, even where both are optional (cert revoke)
        if action.required or action.dest in ("node", "ca") or action in before_bad:
            text = valid_value(action, files, node)
            if action.option_strings:
                argv += [action.option_strings[0], text]
            else:
                values.append(text)
    if bad.option_strings:
        return [*argv, *values, bad.option_strings[0], value]
    return [*argv, "--", *values]  # "--": a bad value may start with "-"


def run_main(argv: list[str]) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        status = main(argv)
    return status, out.getvalue(), err.getvalue()


def assert_one_line(err: str, status: int, expected: int, argv: list[str]) -> None:
    where = f"hubledger {' '.join(map(repr, argv))}"
    assert "Traceback" not in err, f"{where} printed a traceback:\n{err}"
    assert len(err.splitlines()) == 1 and err.strip(), f"{where} printed not one line on stderr:\n{err!r}"
    assert status == expected, f"{where} exited {status}, not {expected}: {err}"
