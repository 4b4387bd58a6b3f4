"""``runlog run -- python train.py``: a command launched as a run, with no change to it.

The parent (this process) starts the run and owns it; the child gets the run's environment
(`Run.otel_environment`, ``RUNLOG_AUTOLOG``) and the bootstrap directory in front of
``PYTHONPATH``, whose ``sitecustomize`` switches auto-instrumentation on at interpreter
start (`runlog._launch_child`) — the way ``opentelemetry-instrument`` does it. Inside the
child, `runlog.active_run` is an attached run: the child never finishes it. The facts
recorded about the launch are `runlog._launch_facts`'s; the output capture is
`runlog._launch_capture`'s.

The parent echoes the child's stdout and stderr unchanged and records each line in the run
(``log.iostream`` = stdout or stderr; at the level the line names when it reads as a log
record or a Python warning, else at the neutral INFO: a warning or a progress bar on stderr
is no error), forwards SIGINT/SIGTERM to the child, uploads the outputs folder, and sets the
final status from the exit code. Print-style metrics are read inside the child
(`runlog.instrumentation._printed`). See docs/autolog.md.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import sys
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any

from runlog import conventions as c
from runlog._launch_capture import Capture
from runlog._launch_child import BOOTSTRAP_DIR
from runlog._launch_facts import launch_properties
from runlog._objects import Run, start_run

#: Exit codes as shells use them.
EXIT_NOT_FOUND = 127
EXIT_NOT_EXECUTABLE = 126
#: Interpreters whose runs are named after the script they run (``python train.py``).
_PYTHON = re.compile(r"^python[\d.]*w?(?:\.exe)?$")


@dataclass(slots=True)
class Launch:
    """What ``runlog run`` was asked to do."""

    command: Sequence[str]
    experiment: str | None = None
    name: str | None = None
    tags: Mapping[str, str] = field(default_factory=dict)
    autolog: str = ",".join(c.AUTOLOG_NAMES)
    outputs: str = "outputs"
    #: Launch into this existing run (a submitted one) instead of starting a new run.
    run_id: str | None = None
    #: Read print-style metrics from stdout lines and log messages (``ENV_PARSE_METRICS``).
    parse_metrics: bool = True


def default_name(command: Sequence[str]) -> str:
    """The run's name for *command*: the program, or the script or module Python runs.

    ``python train.py`` → ``train.py``; ``python -u -m pkg.train`` → ``pkg.train``;
    ``./train.sh`` → ``train.sh``; ``python -c CODE`` → ``python``.
    """
    program = os.path.basename(command[0])
    if not _PYTHON.match(program):
        return program
    rest = iter(command[1:])
    for arg in rest:
        if arg == "-m":
            return next(rest, program)
        if arg in ("-c", "-"):
            return program
        if arg in ("-W", "-X", "--check-hash-based-pycs"):
            next(rest, None)  # the option's value
        elif not arg.startswith("-"):
            return os.path.basename(arg)
    return program


def launch(request: Launch, workspace: Any = None) -> int:
    """Run *request.command* as a run; return the exit code to exit with (the child's)."""
    name = request.name or default_name(request.command)
    run = start_run(
        request.experiment, name=name, tags=request.tags, run_id=request.run_id, workspace=workspace
    )
    try:
        return _launch(run, request)
    except BaseException as exc:  # runlog's own failure: the run must not end Completed
        run.fail(exc)
        raise


def _launch(run: Run, request: Launch) -> int:
    with _Forwarder() as forwarder:
        run.add_properties(launch_properties(request.command))
        try:
            child = subprocess.Popen(
                list(request.command),
                env=child_environment(run, request.autolog, parse_metrics=request.parse_metrics),
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
            )
        except OSError as exc:
            return _not_started(run, request.command[0], exc)
        forwarder.attach(child)
        capture = Capture(run, child)
        returncode = child.wait()
        capture.join()
    _finish(run, request.outputs, returncode, forwarder.received, capture.error_text())
    return exit_code(returncode)


def exit_code(returncode: int) -> int:
    """The shell's exit code for a child's return code (128 + N when killed by signal N)."""
    return 128 - returncode if returncode < 0 else returncode


def child_environment(
    run: Run, autolog: str, base: Mapping[str, str] | None = None, parse_metrics: bool = True
) -> dict[str, str]:
    """The child's environment: *base* plus the run, autolog choices and bootstrap path."""
    env = dict(os.environ if base is None else base)
    env.update(run.otel_environment())
    env[c.ENV_AUTOLOG] = autolog
    env[c.ENV_PARSE_METRICS] = "1" if parse_metrics else "0"
    paths = [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p]
    env["PYTHONPATH"] = os.pathsep.join([BOOTSTRAP_DIR, *paths])
    # Block-buffered output would reach us (and the terminal) late and out of order.
    env.setdefault("PYTHONUNBUFFERED", "1")
    return env


def _not_started(run: Run, program: str, exc: OSError) -> int:
    code = EXIT_NOT_EXECUTABLE if isinstance(exc, PermissionError) else EXIT_NOT_FOUND
    reason = "command not found" if code == EXIT_NOT_FOUND else "permission denied"
    message = f"runlog run: {program}: {reason} ({exc.strerror or exc})"
    print(message, file=sys.stderr)
    run.add_properties({c.PROPERTY_EXIT_CODE: code})
    run.fail(message)
    return code


def _finish(
    run: Run, outputs: str, returncode: int, signalled: int | None, error: str | None
) -> None:
    run.event(c.EVENT_RUN_STATUS, ((c.STATUS, c.STATUS_FINALIZING),))
    folder = Path(outputs)
    if folder.is_dir():
        run.upload_folder(folder.resolve().name or "outputs", folder)
        run.flush()  # the outputs are in before the final status says the run is done
    run.add_properties({c.PROPERTY_EXIT_CODE: exit_code(returncode)})
    if returncode == 0:
        run.complete()
    elif -returncode in _FORWARDED or (signalled is not None and returncode > 0):
        run.cancel()
    else:
        reason = _exit_reason(returncode)
        run.fail(f"{reason}\n{error}" if error else reason)


def _exit_reason(returncode: int) -> str:
    if returncode < 0:
        return f"the command was killed by signal {signal.Signals(-returncode).name}"
    return f"the command exited with code {returncode}"


# --- signals --------------------------------------------------------------------------------
_FORWARDED = tuple(
    getattr(signal, name) for name in ("SIGINT", "SIGTERM", "SIGHUP") if hasattr(signal, name)
)


class _Forwarder:
    """While the child runs, SIGINT/SIGTERM/SIGHUP sent to us are passed on to it.

    A Ctrl-C at a terminal already reached the child (same foreground process group), so
    SIGINT is only passed on when we are not in the terminal's foreground group.
    """

    def __init__(self) -> None:
        self.received: int | None = None
        self._child: subprocess.Popen[bytes] | None = None
        self._previous: dict[int, Any] = {}

    def __enter__(self) -> _Forwarder:
        if threading.current_thread() is threading.main_thread():
            for signum in _FORWARDED:
                self._previous[signum] = signal.signal(signum, self._on_signal)
        return self

    def __exit__(self, *exc: object) -> None:
        for signum, handler in self._previous.items():
            signal.signal(signum, handler)

    def attach(self, child: subprocess.Popen[bytes]) -> None:
        """Forward to *child* from now on (and what arrived before it started)."""
        self._child = child
        if self.received is not None:
            self._forward(self.received)

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        self.received = signum
        if self._child is not None:
            self._forward(signum)

    def _forward(self, signum: int) -> None:
        if signum == signal.SIGINT and _terminal_delivered():
            return
        if self._child is None:
            return
        with contextlib.suppress(OSError):  # the child has just exited
            self._child.send_signal(signum)


def _terminal_delivered() -> bool:
    """Whether a SIGINT came from the terminal (it reached our whole process group)."""
    try:
        return os.tcgetpgrp(sys.stdin.fileno()) == os.getpgrp()
    except (OSError, ValueError, AttributeError):
        return False
