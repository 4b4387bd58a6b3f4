"""The one shutdown sequence: drain instrumentors → finish owned runs → close pipelines."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

from runlog import conventions as c
from runlog.client import Client

RUNLOG = Path(__file__).resolve().parents[1] / "runlog"


def _run(collector: Any, tmp_path: Path, body: str) -> subprocess.CompletedProcess[str]:
    script = tmp_path / "train.py"
    script.write_text(textwrap.dedent(body))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("RUNLOG_", "OTEL_"))}
    env |= {c.ENV_ENDPOINT: collector.endpoint, c.ENV_SPOOL_DIR: str(tmp_path / "spool")}
    return subprocess.run(
        [sys.executable, str(script)], env=env, capture_output=True, text=True, timeout=60
    )


def test_steps_run_in_phase_order_whatever_the_order_they_were_added(
    collector: Any, tmp_path: Path
) -> None:
    """A drain step added last still runs before the run finishes and the pipeline closes."""
    done = _run(
        collector,
        tmp_path,
        """
        import runlog
        from runlog import _shutdown
        run = runlog.start_run("shutdown-order", run_id="shutdown-order-1")
        order = []
        _shutdown.add(_shutdown.CLOSE, lambda: order.append("close"))
        _shutdown.add(_shutdown.FINISH, lambda: order.append("finish"))
        def drain():
            order.append("drain")
            run.log("last_loss", 0.25)  # what an instrumentor still held
        _shutdown.add(_shutdown.DRAIN, drain)
        _shutdown.add(_shutdown.CLOSE, lambda: print(order, flush=True))
        """,
    )
    assert 0 == done.returncode, done.stderr
    assert "['drain', 'finish', 'close']" == done.stdout.strip()
    with Client(collector.endpoint) as client:
        assert "Completed" == client.get_run("shutdown-order-1")["status"]
        assert 0.25 == client.get_metrics("shutdown-order-1")["last_loss"]


def test_an_uncaught_exception_fails_owned_runs_through_the_sequence(
    collector: Any, tmp_path: Path
) -> None:
    done = _run(
        collector,
        tmp_path,
        """
        import runlog
        run = runlog.start_run("shutdown-fail", run_id="shutdown-fail-1")
        raise ValueError("boom")
        """,
    )
    assert 1 == done.returncode
    with Client(collector.endpoint) as client:
        info = client.get_run("shutdown-fail-1")
    assert "Failed" == info["status"]
    assert "ValueError: boom" in info["error"]


@pytest.mark.parametrize(
    "pattern",
    [r"\batexit\.register\(", r"\bregister_at_fork\(", r"\bsys\.excepthook\s*=", "SIGTERM, _"],
)
def test_only_the_shutdown_module_registers_process_hooks(pattern: str) -> None:
    found = [
        str(path.relative_to(RUNLOG))
        for path in RUNLOG.rglob("*.py")
        if re.search(pattern, path.read_text()) and path.name != "_shutdown.py"
    ]
    assert [] == found
