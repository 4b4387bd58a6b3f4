"""`RunlogProcessor`: structlog events into a run.

Put it in the processor chain, anywhere before the renderer::

    import structlog, runlog

    structlog.configure(processors=[
        structlog.processors.add_log_level,
        runlog.RunlogProcessor(),
        structlog.processors.JSONRenderer(),
    ])
    structlog.get_logger("train").info("epoch done", loss=0.31, acc=0.9, step=3)
    # → log line "epoch done loss=0.31 acc=0.9 step=3"; points loss and acc at step 3

Numeric key-values (not bools, not strings) become points of the run, with the same step
rules as `runlog.RunlogHandler`; ``metrics={...}`` is an explicit dict of points. The event
becomes a log line: its level (``level`` key, else the method name), logger name
(``logger`` key, else the logger's ``name``), the event followed by its other key-values,
and an exception (``exc_info`` or an already rendered ``exception``). The event dict goes on
unchanged.

With structlog's stdlib integration (``stdlib.LoggerFactory`` with
``ProcessorFormatter.wrap_for_formatter`` or ``render_to_log_kwargs``), an event this
processor took is skipped by a `RunlogHandler` further down, so nothing is counted twice;
inside a ``ProcessorFormatter`` the processor skips records a handler already took.
"""

from __future__ import annotations

import logging
import sys
import traceback
from collections.abc import Iterable, MutableMapping
from time import time_ns as _now_ns
from typing import Any

from runlog._guard import INSIDE, already_taken, claim, claim_record
from runlog._logfields import (
    STEP_KEYS,
    STRUCTLOG_KEYS,
    exception_fields,
    level_number,
    severity_number,
    split_points,
)
from runlog._objects import Run, active_run
from runlog._recorder import RunRecorder
from runlog.handler import record_points

_log = logging.getLogger("runlog.internal")


class RunlogProcessor:
    """A structlog processor that records log lines and metric points into a run.

    Args:
        run: The run to log into; default `runlog.active_run` at each event.
        step_keys: Keys whose value is the step of the other points (first present wins).
        ignore_keys: Keys that are never points, on top of structlog's own keys
            (`STRUCTLOG_KEYS`: ``event``, ``level``, ``timestamp`` …) and ``_``-prefixed keys.
        log_lines: Also record each event as a log line (default True).
    """

    __slots__ = ("_ignored", "_reported", "log_lines", "run", "step_keys")

    def __init__(
        self,
        run: Run | None = None,
        step_keys: Iterable[str] = STEP_KEYS,
        ignore_keys: Iterable[str] = (),
        log_lines: bool = True,
    ) -> None:
        self.run = run
        self.step_keys = tuple(step_keys)
        self.log_lines = log_lines
        self._ignored = STRUCTLOG_KEYS | frozenset(ignore_keys)
        self._reported: set[type[BaseException]] = set()

    def __call__(
        self, logger: Any, method_name: str, event_dict: MutableMapping[str, Any]
    ) -> MutableMapping[str, Any]:
        """Record *event_dict*; return it unchanged (never raises)."""
        if INSIDE.get():
            return event_dict
        record = event_dict.get("_record")
        stdlib = record if isinstance(record, logging.LogRecord) else None
        #: a stdlib record that reached structlog (not structlog's own): its extras are points
        foreign = None if event_dict.get("_from_structlog") else stdlib
        if stdlib is not None:
            if already_taken(stdlib):  # inside a ProcessorFormatter: maybe a handler took it
                return event_dict
            claim_record(stdlib)
        elif isinstance(event_dict, dict):
            claim(event_dict)
        token = INSIDE.set(True)
        try:
            run = self.run or active_run()
            self._record(run, logger, method_name, event_dict)
            if foreign is not None:  # as RunlogHandler takes them
                record_points(run, foreign, foreign.getMessage(), step_keys=self.step_keys)
        except Exception as exc:
            self._report(exc)
        finally:
            INSIDE.reset(token)
        return event_dict

    def _record(
        self, run: RunRecorder, logger: Any, method_name: str, event_dict: MutableMapping[str, Any]
    ) -> None:
        ignored = self._ignored
        values = {k: v for k, v in event_dict.items() if k not in ignored and k[:1] != "_"}
        explicit = event_dict.get("metrics")
        if isinstance(explicit, dict):
            values.update(explicit)
        points, step = split_points(values, self.step_keys)
        for name, value in points.items():
            run.log(name, value, step=step)
        if self.log_lines:
            _log_line(run, logger, method_name, event_dict, ignored)

    def _report(self, exc: Exception) -> None:
        if type(exc) not in self._reported:
            self._reported.add(type(exc))
            _log.warning("RunlogProcessor could not record an event", exc_info=True)


def _log_line(
    run: RunRecorder,
    logger: Any,
    method_name: str,
    event_dict: MutableMapping[str, Any],
    ignored: frozenset[str],
) -> None:
    level = event_dict.get("level")
    levelno = level_number(level if isinstance(level, str) else method_name)
    record = event_dict.get("_record")
    time_ns = int(record.created * 1e9) if record is not None else _now_ns()
    name = event_dict.get("logger") or event_dict.get("logger_name")
    if name is None:
        name = getattr(logger, "name", None) or getattr(record, "name", "")
    run.log_line(
        render_message(event_dict, ignored),
        str(name),
        severity_number(levelno),
        logging.getLevelName(levelno),
        time_ns,
        event_exception(event_dict),
    )


def render_message(event_dict: MutableMapping[str, Any], ignored: frozenset[str]) -> str:
    """The event followed by its other key-values: ``"epoch done loss=0.31 step=3"``."""
    parts = [str(event_dict.get("event", ""))]
    parts += [f"{k}={v}" for k, v in event_dict.items() if k not in ignored and k[:1] != "_"]
    return " ".join(p for p in parts if p)


def event_exception(event_dict: MutableMapping[str, Any]) -> tuple[str, str, str] | None:
    """``(type, message, stacktrace)`` from ``exc_info`` or a rendered ``exception``."""
    exc_info = event_dict.get("exc_info")
    if isinstance(exc_info, BaseException):
        exc_info = (type(exc_info), exc_info, exc_info.__traceback__)
    elif exc_info is True:
        exc_info = sys.exc_info()
    if isinstance(exc_info, tuple) and len(exc_info) == 3 and exc_info[0] is not None:
        text = "".join(traceback.format_exception(*exc_info)).rstrip("\n")
        return exception_fields(exc_info, text)
    rendered = event_dict.get("exception")
    return ("", "", rendered) if isinstance(rendered, str) and rendered else None


__all__ = ["RunlogProcessor"]
