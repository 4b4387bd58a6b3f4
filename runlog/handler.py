"""`RunlogHandler`: the standard library's `logging` into a run.

Every record becomes a log line of the run (time, level, logger name, message, exception);
numbers passed in ``extra=`` become metric points::

    import logging, runlog

    runlog.install_logging()                       # or addHandler(runlog.RunlogHandler())
    log = logging.getLogger("train")
    log.info("epoch done", extra={"loss": 0.31, "acc": 0.9, "step": 3})
    # → log line "epoch done"; points loss=0.31 and acc=0.9 at step 3

Which keys count:

* ``extra={"metrics": {...}}`` is an explicit dict of points; other numeric extras (int,
  float, numpy/torch scalars — not bools, not strings) are points too.
* The first of ``step_keys`` present (``step``, ``global_step``, ``iteration``, ``iter``,
  ``epoch``) with a whole-number value is the step of the other points and not a point
  itself; further step keys present are ordinary points (``epoch`` logged at ``step``).
* Never points: the record's own attributes (``lineno``, ``process`` …), keys starting
  with ``_``, and ``ignore_keys`` (default: `COMMON_EXTRAS`, e.g. ``status_code``).
* ``parse_messages=True`` also reads numeric ``key=value`` and ``key: value`` pairs in the
  message, and ``epoch N`` / ``step N`` as the step (``"epoch 3 loss=0.31 acc: 0.90"``),
  for print-style logging; ``extra`` wins on conflicts.

`emit` appends to the run's in-process buffer and returns: no lock, no I/O, and it never
raises. Records logged while runlog itself is at work (its internal warnings, the exporter
thread's HTTP client) are dropped, so nothing loops.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any

from runlog._guard import INSIDE, already_taken
from runlog._logfields import (
    COMMON_EXTRAS,
    RECORD_ATTRIBUTES,
    STEP_KEYS,
    ExcInfo,
    exception_fields,
    parse_key_values,
    severity_number,
    split_points,
)
from runlog._objects import Run, active_run
from runlog._recorder import RunRecorder

_log = logging.getLogger("runlog.internal")
_DEFAULT_FORMATTER = logging.Formatter()


class RunlogHandler(logging.Handler):
    """A `logging.Handler` that records log lines and metric points into a run.

    Args:
        run: The run to log into; default the active run at each record
            (`runlog.active_run`: the innermost run started here, else `Run.get_context`).
        parse_messages: Also take numeric ``key=value`` pairs from messages as points.
        step_keys: Keys whose value is the step of the other points (first present wins).
        ignore_keys: Extra keys that are never points, on top of the record's own
            attributes and ``_``-prefixed keys; default `COMMON_EXTRAS`.
        level: The handler's level.

    Works with `logging.config.dictConfig`: ``{"class": "runlog.RunlogHandler",
    "parse_messages": True}``.
    """

    def __init__(
        self,
        run: Run | None = None,
        parse_messages: bool = False,
        step_keys: Iterable[str] = STEP_KEYS,
        ignore_keys: Iterable[str] | None = None,
        level: int | str = logging.NOTSET,
    ) -> None:
        super().__init__(level)
        self.run = run
        self.parse_messages = parse_messages
        self.step_keys = tuple(step_keys)
        extras = COMMON_EXTRAS if ignore_keys is None else frozenset(ignore_keys)
        self._ignored = RECORD_ATTRIBUTES | extras
        self._reported: set[type[BaseException]] = set()

    # Python 3.12's Handler.handle returns the record a filter replaced it with (or False);
    # typeshed still declares bool, so the honest return type is an override to mypy.
    def handle(self, record: logging.LogRecord) -> logging.LogRecord | bool:  # type: ignore[override]  # see above
        """Filter and emit without the handler lock: `emit` is thread-safe on its own."""
        result = self.filter(record)
        if result:
            self.emit(result if isinstance(result, logging.LogRecord) else record)
        return result

    def emit(self, record: logging.LogRecord) -> None:
        """Append the record's log line and points to the run's buffer (never raises)."""
        if INSIDE.get() or already_taken(record):
            return
        token = INSIDE.set(True)
        try:
            self._record(self.run or active_run(), record)
        except Exception:
            self.handleError(record)
        finally:
            INSIDE.reset(token)

    def _record(self, run: RunRecorder, record: logging.LogRecord) -> None:
        message = record.getMessage()
        time_ns = int(record.created * 1e9)
        exception = None
        if record.exc_info:
            text = self._exception_text(record, record.exc_info)
            exception = exception_fields(record.exc_info, text)
        run.log_line(
            message,
            record.name,
            severity_number(record.levelno),
            record.levelname,
            time_ns,
            exception,
        )
        record_points(run, record, message, self._ignored, self.step_keys, self.parse_messages)

    def _exception_text(
        self, record: logging.LogRecord, exc_info: ExcInfo | tuple[None, None, None]
    ) -> str:
        if not record.exc_text:  # cached on the record, as logging.Formatter does
            formatter = self.formatter or _DEFAULT_FORMATTER
            record.exc_text = formatter.formatException(exc_info)
        return record.exc_text

    def handleError(self, record: logging.LogRecord) -> None:
        """Report runlog's own trouble once per error type on ``runlog.internal``."""
        import sys

        kind = sys.exc_info()[0]
        if kind is None or kind in self._reported:
            return
        self._reported.add(kind)
        _log.warning(
            "RunlogHandler could not record a log record of %r", record.name, exc_info=True
        )


#: Attributes of a record made without extra= (message/asctime/exc_text included once set).
_PLAIN_RECORD_SIZE = len(logging.LogRecord("n", logging.INFO, "p", 1, "m", None, None).__dict__)
#: What is never a point by default: the record's own attributes and `COMMON_EXTRAS`.
DEFAULT_IGNORED = RECORD_ATTRIBUTES | COMMON_EXTRAS


def record_points(
    run: RunRecorder,
    record: logging.LogRecord,
    message: str,
    ignored: frozenset[str] = DEFAULT_IGNORED,
    step_keys: tuple[str, ...] = STEP_KEYS,
    parse_messages: bool = False,
) -> None:
    """Log *record*'s numeric ``extra=`` keys (not *ignored*), its ``metrics={...}`` and, with
    *parse_messages*, the ``key=value`` numbers of *message*, as points of *run*."""
    attributes = record.__dict__
    if len(attributes) <= _PLAIN_RECORD_SIZE and not parse_messages:
        return  # no extra= keys: nothing can be a point (most log lines)
    values = {k: attributes[k] for k in attributes.keys() - ignored}
    if parse_messages:
        values = {**parse_key_values(message), **values}
    explicit = attributes.get("metrics")
    if isinstance(explicit, dict):
        values.update(explicit)
    if values:
        points, step = split_points(values, step_keys)
        for name, value in points.items():
            run.log(name, value, step=step)


_installed: RunlogHandler | None = None


def install_logging(level: int | str = logging.INFO, **handler_kwargs: Any) -> RunlogHandler:
    """Add a `RunlogHandler` to the root logger and return it (the existing one if installed).

    Levels are left as they are: the handler records what the logging configuration lets
    through (the root logger's default is WARNING; ``logging.basicConfig(level=logging.INFO)``
    or a logger's own level lets INFO records through). Records logged by runlog itself
    (httpx's request lines in its exporter) never reach any handler (`runlog._logcapture`).

    Args:
        level: The handler's level (default INFO).
        **handler_kwargs: `RunlogHandler` arguments (``run``, ``parse_messages`` …).
    """
    global _installed
    root = logging.getLogger()
    if _installed is not None and _installed in root.handlers:
        return _installed
    _installed = RunlogHandler(level=level, **handler_kwargs)
    root.addHandler(_installed)
    return _installed


def uninstall_logging() -> None:
    """Remove the handler `install_logging` added (nothing happens if there is none)."""
    global _installed
    if _installed is not None:
        logging.getLogger().removeHandler(_installed)
        _installed = None


__all__ = ["RunlogHandler", "install_logging", "uninstall_logging"]
