"""Structured logs: JSON lines in a cluster, readable lines on a terminal; stdlib logs (RQ's) included.

`console` (what `make run` sets) is one short line per event: local time, level, event, its fields.
"""

from __future__ import annotations

import logging
import sys
from typing import TextIO

import structlog

from gleaner import tracing


def add_trace_ids(
    _logger: object, _name: str, event: structlog.types.EventDict
) -> structlog.types.EventDict:
    """A line logged inside a traced job or request names its trace and span (to jump to the trace)."""
    ids = tracing.current_ids()
    if ids is not None:
        event["trace_id"], event["span_id"] = ids
    return event


REPORTED_FAILURE = "gleaner.execution.JobFailed"
"""What `execution.execute_item` raises after logging an item's failure as one line (code and reason)."""


def _not_reported_already(record: logging.LogRecord) -> bool:
    """RQ logs every failed job with its whole traceback; a JobFailed was logged by us, once, already."""
    if record.name.startswith("rq.") and isinstance(record.args, tuple) and record.args:
        lines = str(record.args[-1]).rstrip().splitlines()
        return not (lines and lines[-1].startswith(REPORTED_FAILURE))
    return True


def console_traceback(sio: TextIO, exc_info: structlog.typing.ExcInfo) -> None:
    """structlog's default traceback for an uncoloured console (rich's, without colours, with locals),
    with rich imported on the first traceback rather than at every process start (gleaner/__init__.py
    keeps structlog from importing it); plain when rich is not installed (the worker images)."""
    try:
        from rich.console import Console
        from rich.traceback import Traceback
    except ImportError:
        structlog.dev.plain_traceback(sio, exc_info)
        return
    sio.write("\n")
    trace = Traceback.from_exception(*exc_info, show_locals=True, word_wrap=True)
    trace.code_width = 88
    Console(file=sio, color_system=None).print(trace)


def configure_logging(level: str = "INFO", fmt: str = "json") -> None:
    console = fmt != "json"
    shared: list[structlog.types.Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        add_trace_ids,
        structlog.processors.TimeStamper(fmt="%H:%M:%S", utc=False)
        if console
        else structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    renderer: structlog.types.Processor = (
        structlog.dev.ConsoleRenderer(
            colors=False,
            pad_event=0,
            pad_level=False,
            exception_formatter=console_traceback,
        )
        if console
        else structlog.processors.JSONRenderer()
    )
    structlog.configure(
        processors=[*shared, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=shared,
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            *([] if console else [structlog.processors.format_exc_info]),
            renderer,
        ],
    )
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(formatter)
    handler.addFilter(_not_reported_already)
    # also for loggers that set their own level (RQ's scheduler sets INFO)
    handler.setLevel(level)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
