"""Run an unchanged script plainly and under ``runlog run``; compare; read the run back.

i10b's helper for tests/realworld/ (a separately named module so that it merges cleanly
with the shared conftest). Each script lives in ``scripts/`` and is copied into a fresh
working directory for each of the two runs, so files it writes do not meet.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from runlog import conventions as c
from runlog.client import Client

SCRIPTS = Path(__file__).resolve().parent / "scripts"
#: A progress bar's filled part, whose width follows the width of the timings beside it.
_BAR = re.compile(r"[━─█#]{2,}")
#: Durations, rates and clock times a second run prints differently.
_TIMING = re.compile(
    r"\d+(?:\.\d+)?\s?(?:it/s|s/it|ms|s)\b|\d+:\d\d(?::\d\d)?|\d+\.\d+(?=\s*(?:sec|seconds))"
)


@dataclass
class Outcome:
    """One run of a script: exit code and output."""

    returncode: int
    stdout: str
    stderr: str


@dataclass
class Pair:
    """The same script run plainly and under ``runlog run``, and the run it made."""

    plain: Outcome
    logged: Outcome
    run: dict[str, Any]
    endpoint: str
    experiment: str

    def client(self) -> Client:
        return Client(self.endpoint)


def normalized(text: str) -> str:
    """*text* with timings blanked and carriage-return updates reduced to what shows last."""
    lines = [line.rsplit("\r", 1)[-1] for line in text.split("\n")]
    return _BAR.sub("<bar>", _TIMING.sub("<t>", "\n".join(lines)))


def _clean_env(extra: dict[str, str] | None) -> dict[str, str]:
    env = {**os.environ, **(extra or {})}
    for name in (c.ENV_RUN_ID, c.ENV_EXPERIMENT, "OTEL_RESOURCE_ATTRIBUTES", c.ENV_TOKEN):
        env.pop(name, None)
    env.pop("RUNLOG_INSTRUMENTATION_STRICT", None)  # as users run: runlog's errors logged
    return env


def _run(command: list[str], cwd: Path, env: dict[str, str], timeout: float) -> Outcome:
    done = subprocess.run(
        command, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout, check=False
    )
    return Outcome(done.returncode, done.stdout, done.stderr)


def run_both(
    collector: Any,
    tmp_path: Path,
    script: str,
    *args: str,
    env: dict[str, str] | None = None,
    timeout: float = 240,
) -> Pair:
    """Run ``scripts/<script>`` plainly, then under ``runlog run``; return both and the run."""
    experiment = f"realworld-{Path(script).stem}-{uuid.uuid4().hex[:6]}"
    outcomes = []
    for label in ("plain", "logged"):
        cwd = tmp_path / label
        cwd.mkdir()
        shutil.copy(SCRIPTS / script, cwd / script)
        command = [sys.executable, script, *args]
        extra = {**(env or {}), c.ENV_ENDPOINT: collector.endpoint}
        extra[c.ENV_SPOOL_DIR] = str(tmp_path / f"spool-{label}")
        if label == "logged":
            command = [sys.executable, "-m", "runlog.cli", "run", "-e", experiment, "--", *command]
        outcomes.append(_run(command, cwd, _clean_env(extra), timeout))
    with Client(collector.endpoint) as client:
        found = [r for r in client.search_runs(experiment) if not r.get("parent_id")]
        assert 1 == len(found), found
        run = client.get_run(found[0]["run_id"])
    return Pair(outcomes[0], outcomes[1], run, collector.endpoint, experiment)


def assert_same_output(pair: Pair) -> None:
    """Equal exit codes, and equal stdout and stderr once timings are blanked."""
    assert pair.plain.returncode == pair.logged.returncode, pair.logged.stderr
    assert normalized(pair.plain.stdout) == normalized(pair.logged.stdout)
    assert normalized(pair.plain.stderr) == normalized(pair.logged.stderr)
