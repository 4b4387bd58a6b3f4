"""Runs this process owns: finished at exit, on an uncaught exception and on SIGTERM.

A run started here (`start_logging`, `start_run`, `child_run`, `get_context` outside a
launched process) is completed at a normal exit, failed with the traceback when the
interpreter dies of an uncaught exception, and canceled on SIGTERM; the buffered data is
then flushed with a bounded wait and the rest spooled. The order of all that is
`runlog._shutdown`'s (this module adds the `FINISH` step).
"""

from __future__ import annotations

import logging
import os
import sys
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from runlog import _shutdown
from runlog import conventions as c

if TYPE_CHECKING:
    from runlog.run import Run

_log = logging.getLogger("runlog.internal")
_owned: dict[int, Run] = {}
_on_finish: dict[int, list[Callable[[], None]]] = {}
_lock = threading.Lock()
#: The innermost owned run still open (the last one started), read without a lock.
_innermost: Run | None = None
_context: Run | None = None
#: Held while the context run is chosen (not `_lock`: starting a run registers it there).
_context_lock = threading.Lock()


def register(run: Run) -> None:
    """Remember an owned run until it finishes."""
    global _innermost
    with _lock:
        _owned[id(run)] = run
        _innermost = run
    _shutdown.install_hooks()


def unregister(run: Run) -> None:
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


def on_finish(run: Run, callback: Callable[[], None]) -> None:
    """Call *callback* when the owned *run* finishes (or at exit)."""
    with _lock:
        _on_finish.setdefault(id(run), []).append(callback)


def active_run(cls: type[Run]) -> Run:
    """The innermost run started in this process and not finished, else the context run."""
    run = _innermost
    if run is not None:
        return run
    return _context if _context is not None else context_run(cls)


def finish_owned(status: str, error: str | None = None) -> None:
    """Finish every owned run still open, children before parents."""
    with _lock:
        runs = list(_owned.values())
    for run in reversed(runs):
        try:
            if status == c.STATUS_FAILED:
                run.fail(error)
            elif status == c.STATUS_CANCELED:
                run.cancel()
            else:
                run.complete()
        except Exception:
            _log.exception("runlog could not finish run %s", run.id)


def _finish_at_exit() -> None:
    """The `FINISH` step: finish owned runs as the process ends (see `_shutdown.outcome`)."""
    finish_owned(*_shutdown.outcome())


def context_run(cls: type[Run]) -> Run:
    """The run of `Run.get_context`: the launched process's run, or one per process.

    Threads asking at once wait for the first one's run (each used to start its own, and
    all but one stayed behind as stray runs).
    """
    global _context
    with _context_lock:
        if _context is not None:
            return _context
        from runlog.experiment import Experiment

        run_id, experiment = _launched_run()
        if run_id:
            run = cls._start_attached(Experiment(experiment or c.DEFAULT_EXPERIMENT), run_id)
        else:
            name = os.path.basename(sys.argv[0]) if sys.argv and sys.argv[0] else "interactive"
            exp = Experiment(os.environ.get(c.ENV_EXPERIMENT) or c.DEFAULT_EXPERIMENT)
            run = cls._start(exp, name=name)
        _context = run
    from runlog import system_metrics

    if system_metrics.enabled_by_env():
        system_metrics.start(run)
    return run


def _launched_run() -> tuple[str | None, str | None]:
    run_id = os.environ.get(c.ENV_RUN_ID)
    experiment = os.environ.get(c.ENV_EXPERIMENT)
    resource = _parse_resource(os.environ.get("OTEL_RESOURCE_ATTRIBUTES", ""))
    return run_id or resource.get(c.RUN_ID), experiment or resource.get(c.EXPERIMENT)


def _parse_resource(text: str) -> dict[str, Any]:
    from urllib.parse import unquote

    pairs = (item.split("=", 1) for item in text.split(",") if "=" in item)
    return {k.strip(): unquote(v.strip()) for k, v in pairs}


def _forget_owned_in_child() -> None:
    """A forked child does not own its parent's runs: it must not finish them at exit."""
    global _lock, _context_lock
    _lock = threading.Lock()
    _context_lock = threading.Lock()  # a thread of the parent may have held it at the fork
    _owned.clear()


_shutdown.add(_shutdown.FINISH, _finish_at_exit)
_shutdown.after_fork_in_child(_forget_owned_in_child)
