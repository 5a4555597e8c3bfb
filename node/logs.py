"""structlog set-up: JSON lines when not on a terminal (containers, files), readable otherwise.

Every line the process writes goes through one renderer: HubLedger's own events,
and the records of libraries that log through the standard library (aiohttp's
"Error handling request", asyncio's "Task exception was never retrieved"),
which a plain ``logging.basicConfig`` would have written as many lines of
traceback text in the middle of the JSON. A traceback becomes the
``exception`` field of its one line, so `jq` and log shippers read every line.

Levels say who must look: ``info`` is normal progress, ``warning`` something an
operator should know of while the network copes (a view change, a lost peer, a
failed state transfer), ``error`` something unexpected.
"""

from __future__ import annotations

import logging
import sys
from typing import TextIO

import structlog

LEVELS = {"debug": logging.DEBUG, "info": logging.INFO, "warning": logging.WARNING, "error": logging.ERROR}


def configure_logging(
    *, level: str = "info", format: str = "auto", hub: str = "", stream: TextIO | None = None
) -> None:
    output = stream if stream is not None else sys.stderr
    use_json = format == "json" or (format == "auto" and not output.isatty())
    renderer: structlog.types.Processor = (
        structlog.processors.JSONRenderer() if use_json else structlog.dev.ConsoleRenderer(colors=False)
    )
    stamped: list[structlog.types.Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    if hub:
        stamped.append(_add_hub(hub))
    # The console renderer prints a traceback itself, readably; JSON needs it as one field.
    rendered: list[structlog.types.Processor] = [renderer]
    if use_json:
        rendered.insert(0, structlog.processors.format_exc_info)
    structlog.configure(
        processors=[*stamped, *rendered],
        wrapper_class=structlog.make_filtering_bound_logger(LEVELS[level]),
        logger_factory=structlog.PrintLoggerFactory(output),
        cache_logger_on_first_use=True,
    )
    _route_standard_logging(output, stamped, rendered, LEVELS[level])


def _route_standard_logging(
    output: TextIO,
    stamped: list[structlog.types.Processor],
    rendered: list[structlog.types.Processor],
    level: int,
) -> None:
    """Send every standard-library record (aiohttp, asyncio, warnings) through the same renderer."""
    handler = logging.StreamHandler(output)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=[*stamped, structlog.stdlib.add_logger_name],
            processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, *rendered],
        )
    )
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    # Libraries speak at info about every connection; only their warnings and errors are news.
    root.setLevel(max(level, logging.WARNING))
    logging.captureWarnings(True)


def _add_hub(hub: str) -> structlog.types.Processor:
    def add_hub(_: object, __: str, event: structlog.types.EventDict) -> structlog.types.EventDict:
        event.setdefault("hub", hub)
        return event

    return add_hub
