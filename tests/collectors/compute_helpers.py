"""Helpers of the submitted-run tests: scripts in source folders, waiting for statuses."""

from __future__ import annotations

import base64
import hashlib
import textwrap
import time
import zipfile
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from runlog import conventions as c
from runlog.client import Client

LIFECYCLE = ["NotStarted", "Queued", "Preparing", "Running", "Finalizing"]


def source(folder: Path, files: dict[str, str]) -> Path:
    """Write *files* (name: Python text, dedented) into *folder*; return it."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip())
    return folder


def wait_for(predicate: Callable[[], Any], timeout: float = 60.0, what: str = "") -> Any:
    """Poll *predicate* until it returns something true; fail after *timeout* seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = predicate()
        if found:
            return found
        time.sleep(0.1)
    raise AssertionError(f"timed out after {timeout}s waiting for {what or predicate}")


def wait_status(client: Client, run_id: str, wanted: Iterable[str], timeout: float = 60.0) -> str:
    """Wait until the run's status is one of *wanted*; return it."""
    wanted = set(wanted)

    def reached() -> str | None:
        status = str(client.get_run(run_id)["status"])
        return status if status in wanted else None

    return str(wait_for(reached, timeout, f"run {run_id} to be {sorted(wanted)}"))


def wait_ended(client: Client, run_id: str, timeout: float = 60.0) -> str:
    return wait_status(client, run_id, c.TERMINAL_STATUSES, timeout)


def statuses(client: Client, run_id: str) -> list[str]:
    """The run's status history, checking that its times never go back."""
    history = client.get_statuses(run_id)
    times = [h["time_ns"] for h in history]
    assert sorted(times) == times, history
    return [h["status"] for h in history]


def output_lines(client: Client, run_id: str, stream: str | None = None) -> list[str]:
    """What the script printed, as the run recorded it (one stream, or both in order)."""
    lines = client.get_logs(run_id, limit=10000)
    return [
        line["message"]
        for line in lines
        if line.get("stream") in ((stream,) if stream else ("stdout", "stderr"))
    ]


def tiny_wheel(folder: Path, name: str = "runlogtinypkg", version: str = "1.0") -> Path:
    """Build a pure-Python wheel by hand (a module with ``VALUE = 42``): no index needed."""
    folder.mkdir(parents=True, exist_ok=True)
    dist = f"{name}-{version}.dist-info"
    files = {
        f"{name}/__init__.py": b"VALUE = 42\n",
        f"{dist}/METADATA": f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n".encode(),
        f"{dist}/WHEEL": b"Wheel-Version: 1.0\nGenerator: runlog-tests\n"
        b"Root-Is-Purelib: true\nTag: py3-none-any\n",
    }
    record = []
    for path, data in files.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
        record.append(f"{path},sha256={digest},{len(data)}")
    record.append(f"{dist}/RECORD,,")
    wheel = folder / f"{name}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        for path, data in files.items():
            archive.writestr(path, data)
        archive.writestr(f"{dist}/RECORD", "\n".join(record) + "\n")
    return wheel
