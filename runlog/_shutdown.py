"""One shutdown sequence for the process, registered once, in an explicit order.

At a normal exit, after an uncaught exception, and on SIGTERM, runlog runs three phases,
always in this order, whatever order its modules were imported in:

1. `DRAIN` — instrumentors hand over what they still hold (the torch instrumentor reads
   back its last losses; the launcher joins the thread recording interpreter facts), so it
   lands in runs that are still open;
2. `FINISH` — runs this process owns are finished: completed at a normal exit, failed
   with the traceback after an uncaught exception, canceled on SIGTERM;
3. `CLOSE` — pipelines flush with a bounded wait and spool what is left.

Modules add their steps with `add`; this module alone registers the atexit, at-fork,
excepthook and SIGTERM hooks (SIGTERM only where nobody else handles it).
"""

from __future__ import annotations

import atexit
import logging
import os
import signal
import sys
import threading
import traceback
from collections.abc import Callable
from types import FrameType, TracebackType

from runlog import conventions as c

_log = logging.getLogger("runlog.internal")

DRAIN, FINISH, CLOSE = "drain", "finish", "close"
#: The order of the phases: the one place it is decided.
PHASES = (DRAIN, FINISH, CLOSE)

_steps: dict[str, list[Callable[[], None]]] = {phase: [] for phase in PHASES}
_after_fork: list[Callable[[], None]] = []
_uncaught: str | None = None
_signaled = False
_done = False
_hooks_installed = False


def add(phase: str, step: Callable[[], None]) -> None:
    """Run *step* in *phase* of the shutdown sequence (once per step)."""
    if step not in _steps[phase]:
        _steps[phase].append(step)


def remove(phase: str, step: Callable[[], None]) -> None:
    """Forget *step* (an instrumentor that was uninstrumented)."""
    if step in _steps[phase]:
        _steps[phase].remove(step)


def after_fork_in_child(step: Callable[[], None]) -> None:
    """Run *step* in a forked child, in the order added (e.g. forget owned runs, then
    restart the exporter)."""
    _after_fork.append(step)


def outcome() -> tuple[str, str | None]:
    """How the process is ending: (status for owned runs, error or None)."""
    if _signaled:
        return c.STATUS_CANCELED, None
    if _uncaught is not None:
        return c.STATUS_FAILED, _uncaught
    return c.STATUS_COMPLETED, None


def run() -> None:
    """Run the sequence now (once per process; at exit or on SIGTERM)."""
    global _done
    if _done:
        return
    _done = True
    for phase in PHASES:
        for step in list(_steps[phase]):
            try:
                step()
            except Exception:
                _log.exception("runlog: shutdown step %s (%s) failed", step, phase)


def install_hooks() -> None:
    """Chain sys.excepthook; take SIGTERM only where nobody else handles it (once)."""
    global _hooks_installed, _previous_excepthook
    if _hooks_installed:
        return
    _hooks_installed = True
    _previous_excepthook = sys.excepthook
    sys.excepthook = _excepthook
    take_sigterm()


def take_sigterm() -> None:
    """On SIGTERM run the sequence (owned runs canceled), then die of SIGTERM as before."""
    if threading.current_thread() is not threading.main_thread():
        return
    try:
        if signal.getsignal(signal.SIGTERM) == signal.SIG_DFL:
            signal.signal(signal.SIGTERM, _on_sigterm)
    except (ValueError, OSError):
        pass  # not allowed here (embedded interpreter): exit handling still works


def _excepthook(kind: type[BaseException], value: BaseException, tb: TracebackType | None) -> None:
    global _uncaught
    if not issubclass(kind, KeyboardInterrupt):
        _uncaught = "".join(traceback.format_exception(kind, value, tb))[-c.MAX_VALUE_LENGTH :]
    _previous_excepthook(kind, value, tb)


def _on_sigterm(signum: int, frame: FrameType | None) -> None:
    global _signaled
    _signaled = True
    run()
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    os.kill(os.getpid(), signal.SIGTERM)


def _in_child() -> None:
    global _done, _signaled, _uncaught
    _done, _signaled, _uncaught = False, False, None
    for step in _after_fork:
        try:
            step()
        except Exception:
            _log.exception("runlog: after-fork step %s failed", step)


_previous_excepthook = sys.excepthook
atexit.register(run)
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_in_child)
