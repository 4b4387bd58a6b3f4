"""Seeing the process's log records without becoming part of its logging configuration.

A handler on the root logger changes what a script prints: ``logging.basicConfig()`` does
nothing once the root has a handler, `logging.lastResort` no longer prints the warnings of
unconfigured libraries, and Lightning skips its own console handler. So autolog does not
add one. Instead `logging.Logger.callHandlers` (the one call every handled record goes
through, once, whatever its logger's propagation) is wrapped, and the wrapper hands each
record to runlog's *taps* after the user's handlers had it. Levels are never changed: a tap
sees what the script's logging configuration lets through, nothing more.

The same wrapper keeps runlog's own records away from the user's handlers: a record logged
while runlog works (`runlog._guard.INSIDE`: httpx's request lines in the exporter thread,
a library's log line while runlog records a model) goes to no handler but runlog's own
(``runlog.*`` loggers), so it never shows in the user's console or files.
"""

from __future__ import annotations

import logging

from runlog._guard import INSIDE

_ORIGINAL = logging.Logger.callHandlers
_taps: tuple[logging.Handler, ...] = ()


def _call_handlers(self: logging.Logger, record: logging.LogRecord) -> None:
    if INSIDE.get() and not record.name.startswith("runlog"):
        return  # runlog's own doing: not the user's to see (nor the run's)
    _ORIGINAL(self, record)
    for tap in _taps:
        if record.levelno >= tap.level:
            tap.handle(record)


def install() -> None:
    """Wrap `logging.Logger.callHandlers` (once; runlog's records stay runlog's from now on)."""
    if logging.Logger.callHandlers is not _call_handlers:
        logging.Logger.callHandlers = _call_handlers  # type: ignore[method-assign]  # patching is the point


def add_tap(handler: logging.Handler) -> None:
    """Hand every record a logger handles to *handler* too (once, however often added)."""
    global _taps
    install()
    if handler not in _taps:
        _taps = (*_taps, handler)


def remove_tap(handler: logging.Handler) -> None:
    """Stop handing records to *handler* (nothing happens if it was not added)."""
    global _taps
    _taps = tuple(tap for tap in _taps if tap is not handler)


def taps() -> tuple[logging.Handler, ...]:
    """The handlers that see every handled record (for diagnostics and tests)."""
    return _taps
