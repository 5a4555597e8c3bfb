"""The `jq` filter docs/operators.md gives for the lines that need a person keeps exactly the
node's lines above info, whatever else the log holds: docker-compose 1.29's "Attaching to"
line, or plain text (an old node's traceback). The filter is read from the page, so the page
and the test cannot drift apart."""

from __future__ import annotations

import io
import json
import logging
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import structlog

from node.logs import configure_logging

OPERATORS_PAGE = Path(__file__).resolve().parents[3] / "docs" / "operators.md"


def get_documented_filter() -> list[str]:
    """The jq command (program and options) of the page's log-filter line."""
    for line in OPERATORS_PAGE.read_text(encoding="utf-8").splitlines():
        found = re.search(r"\|\s*jq (?P<options>(-\w+ )*)'(?P<program>[^']+)'", line)
        if found and "level" in found["program"]:
            return ["jq", *found["options"].split(), found["program"]]
    raise AssertionError(f"{OPERATORS_PAGE} shows no jq filter on the log level")


def write_node_lines() -> str:
    """Lines as a node writes them: an info, a warning, and aiohttp's error with its traceback."""
    stream = io.StringIO()
    root = logging.getLogger()
    handlers = list(root.handlers)
    configure_logging(level="info", format="json", hub="beijing", stream=stream)
    try:
        log = structlog.get_logger("hubledger.node")
        log.info("block_committed", height=7)
        log.warning("view_changed", view=1, previous_view=0, primary="shanghai")
        try:
            raise ConnectionResetError("Cannot write to closing transport")
        except ConnectionResetError:
            logging.getLogger("aiohttp.server").exception("Error handling request")
    finally:
        structlog.reset_defaults()
        for handler in list(root.handlers):
            root.removeHandler(handler)
        for handler in handlers:
            root.addHandler(handler)
        logging.captureWarnings(False)
    return stream.getvalue()


@pytest.mark.skipif(shutil.which("jq") is None, reason="jq is not installed")
def test_the_documented_filter_keeps_the_warnings_and_errors_and_passes_over_anything_else() -> None:
    log = (
        "Attaching to hubledger_beijing_1\n"
        + write_node_lines()
        + "Traceback (most recent call last):\n"
        + "aiohttp.client_exceptions.ClientConnectionResetError: Cannot write to closing transport\n"
    )
    finished = subprocess.run(
        get_documented_filter(), input=log, capture_output=True, text=True, timeout=30, check=False
    )
    assert finished.returncode == 0, f"the documented filter failed: {finished.stderr}"
    kept = [json.loads(line) for line in finished.stdout.splitlines()]
    assert [(record["event"], record["level"]) for record in kept] == [
        ("view_changed", "warning"),
        ("Error handling request", "error"),
    ]
    assert "ConnectionResetError" in kept[1]["exception"]
