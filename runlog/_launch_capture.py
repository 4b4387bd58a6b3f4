"""The launched command's output: echoed unchanged and recorded in the run line by line.

Each line goes to the run as a log record (``log.iostream`` = stdout or stderr) at the level
it names when it reads as a log record or a Python warning, else at the neutral INFO (a
warning or a progress bar on stderr is no error); stderr's tail becomes a failed run's
error text. Used by `runlog._launch`.
"""

from __future__ import annotations

import os
import re
import selectors
import sys
import threading
from collections import deque
from collections.abc import Callable
from typing import IO, TYPE_CHECKING

from runlog import conventions as c
from runlog._recorder import RunRecorder

if TYPE_CHECKING:
    import subprocess

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


def line_level(text: str) -> tuple[int, str]:
    """The level of a captured line: the one it names as a log record or Python warning,
    else `NEUTRAL` (neither stream means a level by itself)."""
    match = _LOG_LINE.match(text)
    if match:
        return _LEVELS[match.group(1)]
    if _WARNING_LINE.match(text):
        return _LEVELS["WARNING"]
    return NEUTRAL


class Capture:
    """Echo the child's stdout and stderr unchanged and record each line in the run.

    One thread reads both pipes as data arrives (`selectors`), so the terminal and the run
    see the same order: exact within each stream, and across the two streams the order in
    which the data reached us (two pipes carry no finer ordering than that).
    """

    def __init__(self, run: RunRecorder, child: subprocess.Popen[bytes]) -> None:
        self._stderr_tail: deque[str] = deque(maxlen=STDERR_TAIL)
        streams = {
            "stdout": (child.stdout, sys.stdout, None),
            "stderr": (child.stderr, sys.stderr, self._stderr_tail),
        }
        self._selector = selectors.DefaultSelector()
        for name, (pipe, echo, tail) in streams.items():
            if pipe is not None:
                reader = _Stream(pipe, echo, _line_recorder(run, name, tail))
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


def _line_recorder(
    run: RunRecorder, stream: str, tail: deque[str] | None
) -> Callable[[bytes], None]:
    log_line = run.log_line

    def record(raw: bytes) -> None:
        text = line_text(raw)
        number, level = line_level(text)
        log_line(text, stream, number, level, stream=stream)
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
