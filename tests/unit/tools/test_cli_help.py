"""Every subcommand, found in the parser: JSON on request, defaults and formats in its --help."""

from __future__ import annotations

import argparse

from tests.integration.cli.cases import COMMANDS

# Commands that run something long and report through logs or files, not one result.
RUNNERS = {("node",), ("localnet",), ("bench",), ("chaos", "run"), ("chaos", "list")}


def test_every_command_that_prints_a_result_offers_json() -> None:
    missing = [
        " ".join(path)
        for path, parser in COMMANDS
        if path not in RUNNERS and not any("--json" in action.option_strings for action in parser._actions)
    ]
    assert missing == [], f"no --json: {missing}"


def test_every_default_is_shown_in_help() -> None:
    hidden = [
        f"{' '.join(path)} {action.option_strings[0]}"
        for path, parser in COMMANDS
        for action in parser._actions
        if action.option_strings
        and action.default not in (None, False, "", (), argparse.SUPPRESS)
        and "default" not in (action.help or "")
    ]
    assert hidden == [], f"--help does not show these defaults: {hidden}"


def test_every_value_names_its_format() -> None:
    """A value's metavar or help says what it takes (argparse's bare DEST is not a format)."""
    bare = [
        f"{' '.join(path)} {action.option_strings[0]}"
        for path, parser in COMMANDS
        for action in parser._actions
        if action.option_strings and action.nargs != 0 and not action.help and action.choices is None
    ]
    assert bare == [], f"no help: {bare}"
