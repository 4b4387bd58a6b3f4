"""The registry of runs this process owns: finished at exit, on an uncaught exception and on
SIGTERM, children before parents.

A run started here (`start_logging`, `start_run`, `child_run`, `get_context` outside a
launched process) registers when it starts and leaves when it finishes. What is still open
when the process ends is completed at a normal exit, failed with the traceback when the
interpreter dies of an uncaught exception, and canceled on SIGTERM; the buffered data is
then flushed with a bounded wait and the rest spooled. The order of all that is
`runlog._shutdown`'s (this module adds the `FINISH` step).

The registry knows runs only as `Owned` (an id and a way to finish), never how they are
built: the run of ``Run.get_context`` is chosen by
`runlog.run`, which keeps it here (`set_context`).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Protocol

from runlog import _shutdown
from runlog import conventions as c


class Owned(Protocol):
    """What the registry needs of a run (a `runlog._recorder.RunRecorder`): its id, and
    how to finish it."""

    @property
    def id(self) -> str:
        """The run id."""
        ...

    def finish(self, status: str, error: str | None = None, wait: bool = True) -> None:
        """End the run with *status* (and *error* text)."""
        ...


_log = logging.getLogger("runlog.internal")
_owned: dict[int, Owned] = {}
_on_finish: dict[int, list[Callable[[], None]]] = {}
_lock = threading.Lock()
#: The innermost owned run still open (the last one started), read without a lock.
_innermost: Owned | None = None
#: The run of ``Run.get_context``, once chosen.
_context: Owned | None = None


def register(run: Owned) -> None:
    """Remember an owned run until it finishes."""
    global _innermost
    with _lock:
        _owned[id(run)] = run
        _innermost = run
    _shutdown.install_hooks()


def unregister(run: Owned) -> None:
    """Forget a finished run and call what was waiting for it to finish."""
    global _innermost
    with _lock:
        _owned.pop(id(run), None)
        _innermost = next(reversed(_owned.values()), None)
        callbacks = _on_finish.pop(id(run), [])
    for callback in callbacks:
        try:
            callback()
        except Exception:
            _log.exception("runlog: a finish callback of run %s failed", run.id)


def on_finish(run: Owned, callback: Callable[[], None]) -> None:
    """Call *callback* when the owned *run* finishes (or at exit)."""
    with _lock:
        _on_finish.setdefault(id(run), []).append(callback)


def innermost() -> Owned | None:
    """The innermost owned run still open, else the context run if one was chosen."""
    return _innermost or _context


def context() -> Owned | None:
    """The run of ``Run.get_context`` if it was chosen already."""
    return _context


def set_context(run: Owned) -> None:
    """Keep *run* as the run of ``Run.get_context`` for the rest of the process."""
    global _context
    _context = run


def finish_owned(status: str, error: str | None = None) -> None:
    """Finish every owned run still open, children before parents."""
    with _lock:
        runs = list(_owned.values())
    text = None if error is None else error[: c.MAX_VALUE_LENGTH]
    for run in reversed(runs):
        try:
            run.finish(status, text)
        except Exception:
            _log.exception("runlog could not finish run %s", run.id)


def _finish_at_exit() -> None:
    """The `FINISH` step: finish owned runs as the process ends (see `_shutdown.outcome`)."""
    finish_owned(*_shutdown.outcome())


def _forget_owned_in_child() -> None:
    """A forked child does not own its parent's runs: it must not finish them at exit."""
    global _lock
    _lock = threading.Lock()
    _owned.clear()


_shutdown.add(_shutdown.FINISH, _finish_at_exit)
_shutdown.after_fork_in_child(_forget_owned_in_child)
