"""``runlog run -- python train.py``: a command launched as a run, with no change to it.

The parent (this process) starts the run and owns it; the child gets the run's environment
(`Run.otel_environment`, ``RUNLOG_AUTOLOG``) and the bootstrap directory in front of
``PYTHONPATH``, whose ``sitecustomize`` switches auto-instrumentation on at interpreter
start (`child_bootstrap`) — the way ``opentelemetry-instrument`` does it. Inside the child,
`runlog.active_run` is an attached run: the child never finishes it.

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
import selectors
import signal
import subprocess
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import IO, TYPE_CHECKING, Any

from runlog import conventions as c
from runlog._packer import OP_LOG

if TYPE_CHECKING:
    from runlog.run import Run

#: The folder whose ``sitecustomize`` the child interpreter runs first.
BOOTSTRAP_DIR = str(Path(__file__).resolve().parent / "instrumentation" / "_bootstrap")
#: Exit codes as shells use them.
EXIT_NOT_FOUND = 127
EXIT_NOT_EXECUTABLE = 126
#: Distributions whose installed versions are recorded (``runlog.package.<name>``).
PACKAGES_OF_NOTE = (
    "runlog",
    "numpy",
    "pandas",
    "scipy",
    "scikit-learn",
    "torch",
    "torchvision",
    "lightning",
    "pytorch-lightning",
    "tensorboard",
    "transformers",
    "xgboost",
    "lightgbm",
    "jax",
    "tensorflow",
)
#: stderr lines kept for the error text of a failed run (the traceback is among them).
STDERR_TAIL = 200
#: Longest captured line; a longer one is recorded in pieces.
MAX_LINE_BYTES = 64 * 1024
_TRACEBACK = "Traceback (most recent call last):"
#: The level of a captured line that names none (OTel severity number, text).
NEUTRAL = (9, "INFO")
_LEVELS = {
    "DEBUG": (5, "DEBUG"),
    "INFO": (9, "INFO"),
    "WARN": (13, "WARNING"),
    "WARNING": (13, "WARNING"),
    "ERROR": (17, "ERROR"),
    "CRITICAL": (21, "CRITICAL"),
    "FATAL": (21, "CRITICAL"),
}
#: A level name at a line's start, after an optional timestamp or bracket: ``WARNING:x:msg``,
#: ``2024-05-01 12:00:00,123 ERROR msg``, ``[INFO] msg``.
_LOG_LINE = re.compile(
    r"^[\[(]?(?:\d{4}-\d\d-\d\d[ T][\d:.,]+\s*[\])]?\s*[-|]?\s*[\[(]?)?"
    r"(DEBUG|INFO|WARNING|WARN|ERROR|CRITICAL|FATAL)\b[\])]?(?::|\s|$)"
)
#: What `warnings.showwarning` prints: ``path.py:12: UserWarning: message``.
_WARNING_LINE = re.compile(r"^.+:\d+: [A-Za-z_][\w.]*Warning: ")
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


def line_level(text: str) -> tuple[int, str]:
    """The level of a captured line: the one it names as a log record or Python warning,
    else `NEUTRAL` (neither stream means a level by itself)."""
    match = _LOG_LINE.match(text)
    if match:
        return _LEVELS[match.group(1)]
    if _WARNING_LINE.match(text):
        return _LEVELS["WARNING"]
    return NEUTRAL


def launch(request: Launch, workspace: Any = None) -> int:
    """Run *request.command* as a run; return the exit code to exit with (the child's)."""
    import runlog

    name = request.name or default_name(request.command)
    run = runlog.start_run(
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
    run._event(c.EVENT_RUN_STATUS, ((c.STATUS, c.STATUS_FINALIZING),))
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


# --- facts about the launch ---------------------------------------------------------------
def launch_properties(command: Sequence[str], cwd: str | None = None) -> dict[str, str]:
    """The command line, working directory and git state (commit, branch, dirty)."""
    import shlex

    cwd = cwd or os.getcwd()
    return {
        c.PROPERTY_COMMAND: shlex.join(command),
        c.PROPERTY_CWD: cwd,
        **git_properties(cwd),
    }


def git_properties(cwd: str) -> dict[str, str]:
    """Commit, branch and dirty state of the git work tree at *cwd* ({} outside one)."""
    commit = _git(cwd, "rev-parse", "HEAD")
    if commit is None:
        return {}
    facts = {c.PROPERTY_GIT_COMMIT: commit}
    branch = _git(cwd, "rev-parse", "--abbrev-ref", "HEAD")
    if branch and branch != "HEAD":  # "HEAD": a detached head has no branch
        facts[c.PROPERTY_GIT_BRANCH] = branch
    status = _git(cwd, "status", "--porcelain", "--untracked-files=no")
    if status is not None:
        facts[c.PROPERTY_GIT_DIRTY] = "true" if status else "false"
    return facts


def _git(cwd: str, *args: str) -> str | None:
    try:
        done = subprocess.run(
            ["git", *args], cwd=cwd, capture_output=True, text=True, timeout=10, check=False
        )
    except (OSError, subprocess.SubprocessError):
        return None  # no git here: nothing to record
    return done.stdout.strip() if done.returncode == 0 else None


def interpreter_properties() -> dict[str, str]:
    """This interpreter's version and executable, and the versions of packages of note."""
    from importlib import metadata

    facts = {
        c.PROPERTY_PYTHON_VERSION: sys.version.split()[0],
        c.PROPERTY_PYTHON_EXECUTABLE: sys.executable,
    }
    for name in PACKAGES_OF_NOTE:
        try:
            facts[c.PROPERTY_PACKAGE_PREFIX + name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return facts


# --- the child's output -------------------------------------------------------------------
class Capture:
    """Echo the child's stdout and stderr unchanged and record each line in the run.

    One thread reads both pipes as data arrives (`selectors`), so the terminal and the run
    see the same order: exact within each stream, and across the two streams the order in
    which the data reached us (two pipes carry no finer ordering than that).
    """

    def __init__(self, run: Run, child: subprocess.Popen[bytes]) -> None:
        self._stderr_tail: deque[str] = deque(maxlen=STDERR_TAIL)
        streams = {
            "stdout": (child.stdout, sys.stdout, None),
            "stderr": (child.stderr, sys.stderr, self._stderr_tail),
        }
        self._selector = selectors.DefaultSelector()
        for name, (pipe, echo, tail) in streams.items():
            if pipe is not None:
                reader = _Stream(pipe, echo, _recorder(run, name, tail))
                self._selector.register(pipe.fileno(), selectors.EVENT_READ, reader)
        self._thread = threading.Thread(target=self._pump, name="runlog-capture", daemon=True)
        self._thread.start()

    def _pump(self) -> None:
        with self._selector:
            while self._selector.get_map():
                for key, _ in self._selector.select():
                    if not key.data.read():
                        self._selector.unregister(key.fd)

    def join(self) -> None:
        """Wait until both pipes are read to their end."""
        self._thread.join()

    def error_text(self) -> str | None:
        """The traceback at the end of stderr, else its last lines (None when empty)."""
        lines = list(self._stderr_tail)
        starts = [i for i, line in enumerate(lines) if line.startswith(_TRACEBACK)]
        kept = lines[starts[0] :] if starts else lines[-20:]
        text = "\n".join(kept).strip()
        return text[-c.MAX_VALUE_LENGTH :] or None


class _Stream:
    """One pipe of the child: read a chunk, echo it, record the lines it completes."""

    def __init__(self, pipe: IO[bytes], echo: IO[str], record: Callable[[bytes], None]) -> None:
        self._pipe = pipe
        self._out: IO[bytes] | None = getattr(echo, "buffer", None)
        self._lines = LineSplitter(record)

    def read(self) -> bool:
        """Handle what is there; False at the end of the stream."""
        chunk = os.read(self._pipe.fileno(), 65536)
        if not chunk:
            self._lines.close()
            self._pipe.close()
            return False
        if self._out is not None:
            self._out = _echo(self._out, chunk)
        self._lines.feed(chunk)
        return True


def _recorder(run: Run, stream: str, tail: deque[str] | None) -> Callable[[bytes], None]:
    append, handle = run._append, run._handle

    def record(raw: bytes) -> None:
        text = line_text(raw)
        number, level = line_level(text)
        append((OP_LOG, handle, time.time_ns(), number, level, stream, text, None, stream))
        if tail is not None:
            tail.append(text)

    return record


def line_text(raw: bytes) -> str:
    """The text a terminal shows for one captured line (after the last carriage return)."""
    text = raw.decode("utf-8", errors="replace").rstrip("\r\n")
    return text.rsplit("\r", 1)[-1]


def _echo(out: IO[bytes], chunk: bytes) -> IO[bytes] | None:
    try:
        out.write(chunk)
        out.flush()
    except (OSError, ValueError):
        return None  # our own stdout is gone (a closed pipe): keep recording, stop echoing
    return out


class LineSplitter:
    """Cut a byte stream into lines; a line longer than `MAX_LINE_BYTES` goes in pieces."""

    def __init__(self, emit: Callable[[bytes], None]) -> None:
        self._emit = emit
        self._partial = b""

    def feed(self, chunk: bytes) -> None:
        """Emit every line *chunk* completes; keep the unfinished rest."""
        *lines, rest = (self._partial + chunk).split(b"\n")
        for line in lines:
            self._emit(line)
        while len(rest) > MAX_LINE_BYTES:
            self._emit(rest[:MAX_LINE_BYTES])
            rest = rest[MAX_LINE_BYTES:]
        self._partial = rest

    def close(self) -> None:
        """Emit the last line when the stream did not end with a newline."""
        if self._partial:
            self._emit(self._partial)
            self._partial = b""


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


# --- inside the child ---------------------------------------------------------------------
def child_bootstrap() -> None:
    """At the launched interpreter's start: interpreter facts, autolog, flush on SIGTERM.

    Each step is on its own: a failing one is reported in one line on stderr (with the
    traceback in strict mode) and the others still happen; the script always runs.
    """
    from runlog.instrumentation._autolog import autolog_from_env

    _remove_bootstrap_from_pythonpath()
    for step in (_flush_on_sigterm, _record_interpreter, autolog_from_env, _read_printed_metrics):
        try:
            step()
        except Exception as exc:
            _report_bootstrap_error(step.__name__, exc)


def _record_interpreter() -> None:
    """Record the interpreter facts in the background: reading installed versions takes
    0.1-0.3 s that the script's first line should not wait for. Joined in the shutdown's
    `DRAIN` phase (before runs finish and the exporter's last flush): nothing is lost."""
    from runlog import _shutdown
    from runlog.instrumentation._base import current_run

    run = current_run()
    if run is None:
        return

    def record() -> None:
        try:
            run.add_properties(interpreter_properties())
        except Exception as exc:
            _report_bootstrap_error("_record_interpreter", exc)

    thread = threading.Thread(target=record, name="runlog-interpreter-facts", daemon=True)
    thread.start()
    _shutdown.add(_shutdown.DRAIN, lambda: thread.join(5.0))


def _read_printed_metrics() -> None:
    """Print-style metrics of the script's ``print`` calls, unless switched off."""
    from runlog.instrumentation._autolog import parse_metrics_on

    if parse_metrics_on():
        from runlog.instrumentation import _printed

        _printed.install()


def _report_bootstrap_error(step: str, exc: Exception) -> None:
    from runlog.instrumentation._base import strict

    if strict():
        import traceback

        traceback.print_exception(exc, file=sys.stderr)
    print(
        f"runlog: {step} failed at start ({type(exc).__name__}: {exc}); the script runs on",
        file=sys.stderr,
    )


def _remove_bootstrap_from_pythonpath() -> None:
    """Only the launched interpreter runs the bootstrap, not processes it starts (OTel's rule)."""
    paths = [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]
    kept = [p for p in paths if os.path.abspath(p) != BOOTSTRAP_DIR]
    if kept:
        os.environ["PYTHONPATH"] = os.pathsep.join(kept)
    else:
        os.environ.pop("PYTHONPATH", None)


def _flush_on_sigterm() -> None:
    """Send what is buffered before dying of SIGTERM (the launched run stays the parent's;
    runs the script started itself are canceled, as `runlog._lifecycle` does)."""
    from runlog import _shutdown

    _shutdown.take_sigterm()


# --- the launcher of submitted runs --------------------------------------------------------
def main(argv: Sequence[str] | None = None) -> None:
    """``python -m runlog._launch --run-id RUN -e EXP [--name N] [--no-autolog] -- CMD``.

    `launch` into an existing run, as compute targets start submitted runs: ``runlog run
    --run-id`` without the command line tool's imports, so the script starts sooner.
    """
    import argparse

    parser = argparse.ArgumentParser(prog="python -m runlog._launch")
    parser.add_argument("--run-id", required=True)
    parser.add_argument("-e", "--experiment", required=True)
    parser.add_argument("--name")
    parser.add_argument("--outputs", default="outputs")
    parser.add_argument("--no-autolog", action="store_true")
    parser.add_argument("command", nargs="+")
    args = parser.parse_args(argv)
    request = Launch(
        args.command,
        experiment=args.experiment,
        name=args.name,
        autolog="0" if args.no_autolog else ",".join(c.AUTOLOG_NAMES),
        outputs=args.outputs,
        run_id=args.run_id,
    )
    raise SystemExit(launch(request))


if __name__ == "__main__":
    main()
