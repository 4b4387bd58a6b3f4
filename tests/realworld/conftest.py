"""Unchanged scripts, run plainly and under ``runlog run`` against a real collector.

``run_script(path, under_runlog=...)`` runs one script of ``tests/realworld/scripts/`` in a
fresh folder and returns its exit code, stdout, stderr and the runs the collector holds for
it afterwards. Plainly means with no runlog at all (no ``RUNLOG_*`` variables); under
``runlog run`` means ``python -m runlog.cli run -e <fresh experiment> -- python script``.
Every test in this folder is marked ``realworld`` (deselect with ``-m 'not realworld'``).
"""

from __future__ import annotations

import itertools
import os
import re
import subprocess
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

import runlog
from runlog import conventions as c

REPO = Path(__file__).resolve().parents[2]
SCRIPTS = Path(__file__).resolve().parent / "scripts"
_numbers = itertools.count()
_TIMING = re.compile(r"\d+(\.\d+)?\s?(ms|s|sec|seconds|it/s|s/it)\b")


@dataclass(frozen=True)
class Outcome:
    """What one script run did: exit code, streams, and the runs recorded for it."""

    returncode: int
    stdout: str
    stderr: str
    runs: list[runlog.Run]


def mask_timings(text: str) -> str:
    """*text* with durations and rates (``0.52s``, ``3 ms``, ``12.1it/s``) as ``<time>``."""
    return _TIMING.sub("<time>", text)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    here = Path(__file__).resolve().parent
    for item in items:
        if here in Path(str(item.fspath)).resolve().parents:
            item.add_marker(pytest.mark.realworld)


@pytest.fixture
def run_script(collector: Any, tmp_path: Path) -> Callable[..., Outcome]:
    """``run(script, *, under_runlog, args=(), timeout=300) -> Outcome`` (see the module)."""

    def run(
        script: str | Path, *, under_runlog: bool, args: Sequence[str] = (), timeout: float = 300
    ) -> Outcome:
        path = Path(script) if Path(script).is_absolute() else SCRIPTS / script
        number = next(_numbers)
        cwd = tmp_path / f"{'runlog' if under_runlog else 'plain'}-{number}"
        cwd.mkdir()
        env = {k: v for k, v in os.environ.items() if not k.startswith(("RUNLOG_", "OTEL_"))}
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
        command = [sys.executable, str(path), *args]
        experiment = f"realworld-{path.stem}-{os.getpid()}-{number}"
        if under_runlog:
            env[c.ENV_ENDPOINT] = collector.endpoint
            env[c.ENV_SPOOL_DIR] = str(tmp_path / f"spool-{number}")
            strict = os.environ.get("RUNLOG_INSTRUMENTATION_STRICT")
            if strict is not None:  # runlog's own errors raise in tests: CI sees them
                env["RUNLOG_INSTRUMENTATION_STRICT"] = strict
            command = [sys.executable, "-m", "runlog.cli", "run", "-e", experiment, "--"]
            command += [sys.executable, str(path), *args]
        done = subprocess.run(
            command, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout
        )
        runs: list[runlog.Run] = []
        if under_runlog:
            workspace = runlog.Workspace(collector.endpoint)
            runs = list(runlog.Experiment(workspace, experiment).get_runs())
        return Outcome(done.returncode, done.stdout, done.stderr, runs)

    return run
