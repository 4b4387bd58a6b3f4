"""Processes of the local target: identity across collector restarts, stopping a tree."""

from __future__ import annotations

import contextlib
import os
import signal
import time
from collections.abc import Callable
from pathlib import Path


def start_time(pid: int) -> int | None:
    """The process's start time in clock ticks since boot (Linux), or None if unknown.

    Together with the pid it names one process: a pid reused later has another start time.
    """
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The command name (field 2) may hold spaces and parentheses: split after its last ')'.
    fields = stat.rsplit(")", 1)[-1].split()
    try:
        return int(fields[19])
    except (IndexError, ValueError):
        return None


def alive(pid: int, started: int | None) -> bool:
    """Whether the process *pid* that started at *started* still runs (zombies do not)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    with contextlib.suppress(OSError):
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[-1].split()[0]
        if state == "Z":
            return False
    return started is None or start_time(pid) == started


def stop_group(pgid: int, grace_s: float, ended: Callable[[], bool]) -> bool:
    """SIGTERM the process group *pgid*, then SIGKILL it if *ended* is still false after
    *grace_s* seconds. Returns True when it had to be killed."""
    if not _signal_group(pgid, signal.SIGTERM):
        return False
    deadline = time.monotonic() + grace_s
    while time.monotonic() < deadline and not ended():
        time.sleep(0.05)
    killed = not ended()
    _signal_group(pgid, signal.SIGKILL)  # and whatever the group left behind
    return killed


def _signal_group(pgid: int, signum: int) -> bool:
    try:
        os.killpg(pgid, signum)
    except ProcessLookupError:
        return False
    except PermissionError:
        return False
    return True
