"""A progress bar for long transfers, shown only where a person watches stderr.

rich draws it when it is installed (the CLI's dependency); without rich, or when stderr is
no terminal (a log file, a batch job), nothing is drawn.
"""

from __future__ import annotations

import contextlib
import sys
import threading
from collections.abc import Iterator
from typing import IO, Any

#: Transfers below this size finish too fast for a bar to help.
MIN_BYTES = 64 * 1024 * 1024
_one_bar = threading.Lock()  # one bar at a time: two live displays would garble stderr


def wanted(size: int) -> bool:
    """Whether a transfer of *size* bytes gets a bar here."""
    try:
        return size >= MIN_BYTES and sys.stderr.isatty()
    except (AttributeError, ValueError):  # stderr replaced or closed
        return False


class _Counting:
    """A binary stream whose reads advance a progress task."""

    mode = "rb"

    def __init__(self, stream: IO[bytes], advance: Any) -> None:
        self._stream = stream
        self._advance = advance

    def read(self, size: int = -1) -> bytes:
        chunk = self._stream.read(size)
        self._advance(len(chunk))
        return chunk

    def seek(self, offset: int, whence: int = 0) -> int:
        self._advance(None)
        return self._stream.seek(offset, whence)


Stream = IO[bytes] | _Counting


@contextlib.contextmanager
def reading(stream: IO[bytes], size: int, label: str) -> Iterator[Stream]:
    """Yield *stream*, wrapped so that reading it draws a bar when `wanted`."""
    if not wanted(size) or not _one_bar.acquire(blocking=False):
        yield stream  # no terminal, or another transfer's bar is showing
        return
    try:
        try:
            from rich.console import Console
            from rich.progress import Progress
        except ImportError:
            yield stream
            return
        with Progress(console=Console(stderr=True), transient=True) as progress:
            task = progress.add_task(label, total=size)

            def advance(count: int | None) -> None:
                if count is None:
                    progress.reset(task, total=size)
                else:
                    progress.advance(task, count)

            yield _Counting(stream, advance)
    finally:
        _one_bar.release()
