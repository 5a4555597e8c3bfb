"""Every line the node writes is one JSON object: its own events and the standard-library
records of aiohttp and asyncio alike, a traceback folded into the line's ``exception``."""

from __future__ import annotations

import asyncio
import gc
import io
import json
import logging
from collections.abc import Iterator
from typing import Any

import pytest
import structlog

from node.logs import configure_logging


@pytest.fixture
def output() -> Iterator[io.StringIO]:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    stream = io.StringIO()
    configure_logging(level="info", format="json", hub="beijing", stream=stream)
    yield stream
    structlog.reset_defaults()
    for handler in list(root.handlers):
        root.removeHandler(handler)
    for handler in handlers:
        root.addHandler(handler)
    root.setLevel(level)
    logging.captureWarnings(False)


def parse_lines(stream: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def test_an_aiohttp_error_with_its_traceback_is_one_json_line(output: io.StringIO) -> None:
    try:
        raise ConnectionResetError("Cannot write to closing transport")
    except ConnectionResetError:
        logging.getLogger("aiohttp.server").exception("Error handling request from %s", "127.0.0.1")
    [record] = parse_lines(output)
    assert record["event"] == "Error handling request from 127.0.0.1"
    assert record["level"] == "error" and record["logger"] == "aiohttp.server" and record["hub"] == "beijing"
    assert "ConnectionResetError: Cannot write to closing transport" in record["exception"]


def test_an_exception_no_task_retrieved_is_one_json_line(output: io.StringIO) -> None:
    async def fail() -> None:
        raise RuntimeError("lost")

    async def leave_a_task_failed() -> None:
        task = asyncio.ensure_future(fail())
        await asyncio.sleep(0)
        del task

    asyncio.run(leave_a_task_failed())
    gc.collect()  # the failed task is collected: asyncio reports what nobody retrieved
    [record] = parse_lines(output)
    assert record["logger"] == "asyncio" and record["level"] == "error"
    assert "RuntimeError: lost" in record["exception"]


def test_own_events_and_library_info_keep_their_levels(output: io.StringIO) -> None:
    structlog.get_logger("hubledger.node").warning("view_changed", view=1)
    logging.getLogger("aiohttp.access").info("GET / 200")  # libraries' info is not news
    structlog.get_logger("hubledger.node").debug("frame_sent")  # below the configured level
    lines = [(record["event"], record["level"]) for record in parse_lines(output)]
    assert lines == [("view_changed", "warning")]
