"""What the studio's browser tests share: a recording page, the collector with the examples'
runs, and running scripts against it (imported by conftest.py and the tests)."""

from __future__ import annotations

import os
import re
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from browser import READY
from collector_process import REPO_ROOT, Collector


@dataclass
class Page:
    """A browser page that records console errors and failed requests."""

    page: Any
    base: str
    errors: list[str] = field(default_factory=list)

    def open(self, where: str) -> Any:
        """Load ``base + where`` afresh and wait until the studio says it is ready."""
        self.page.goto("about:blank")
        self.page.goto(self.base + where)
        self.page.wait_for_selector(READY, timeout=20_000)
        return self.page


def run_script(collector: Collector, cwd: Path, *command: str) -> str:
    """Run *command* with the collector as its endpoint (and token); return its output."""
    env = {
        **os.environ,
        "RUNLOG_ENDPOINT": collector.endpoint,
        "RUNLOG_SPOOL_DIR": str(cwd / "spool"),
        "MPLBACKEND": "Agg",
        "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO_ROOT), os.environ.get("PYTHONPATH")])),
    }
    env.pop("RUNLOG_TOKEN", None)
    if collector.token:
        env["RUNLOG_TOKEN"] = collector.token
    done = subprocess.run(
        command, cwd=cwd, env=env, capture_output=True, text=True, timeout=120, check=False
    )
    assert 0 == done.returncode, f"{command} failed:\n{done.stdout}\n{done.stderr}"
    return done.stdout + done.stderr


@dataclass
class Studio:
    """A collector holding the examples' runs."""

    collector: Collector
    mlflow_output: str
    workdir: Path

    def runs(self, experiment: str) -> list[dict[str, Any]]:
        with self.collector.client() as client:
            found = client.get("/api/v1/runs", params={"experiment": experiment}).json()
        return list(found["runs"])

    def experiment_id(self, name: str) -> int:
        with self.collector.client() as client:
            return int(client.get(f"/api/v1/experiments/{name}").json()["experiment_id"])

    def mlflow_run_url(self) -> str:
        found = re.search(r"View run .* at: (\S+)", self.mlflow_output)
        assert found, self.mlflow_output
        return found.group(1)


# A training loop that logs a point and a log line per step until told to stop. (The line
# also keeps the client exporting on main today: it sends run.log points only in cycles that
# carry something else, a bug the client's rework on branch i9c fixes.)
LIVE_SCRIPT = """
import logging, sys, time, runlog
from pathlib import Path
stop = Path(sys.argv[1])  # then: experiment, run id
runlog.install_logging()
log = logging.getLogger("train")
log.setLevel(logging.INFO)
with runlog.start_run(experiment=sys.argv[2], run_id=sys.argv[3]) as run:
    step = 0
    while not stop.exists() and step < 30_000:
        run.log("loss", 1.0 / (step + 1), step=step)
        log.info("step %d", step)
        step += 1
        time.sleep(0.02)
"""
