"""Browser fixtures: Debian's chromium driven by Playwright, and a collector with real runs.

`make test` installs chromium (apt) and playwright (the dev extra); where either is missing
the browser tests are skipped with the reason.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from browser import READY, chromium_missing, launch
from collector_process import REPO_ROOT, Collector, run_collector


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    """One headless Chromium for the session."""
    sync_api = pytest.importorskip("playwright.sync_api")
    missing = chromium_missing()
    if missing:
        pytest.skip(missing)
    with sync_api.sync_playwright() as playwright:
        launched = launch(playwright)
        try:
            yield launched
        finally:
            launched.close()


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


@pytest.fixture
def page(browser: Any, studio: Studio) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1280, "height": 800}, accept_downloads=True)
    opened = Page(context.new_page(), studio.collector.endpoint)
    opened.page.on("console", lambda m: opened.errors.append(m.text) if m.type == "error" else None)
    opened.page.on("pageerror", lambda e: opened.errors.append(f"uncaught: {e}"))
    try:
        yield opened
    finally:
        context.close()


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


@pytest.fixture(scope="module")
def studio(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Studio]:
    pytest.importorskip("playwright.sync_api")
    pytest.importorskip("sklearn")
    pytest.importorskip("mlflow")
    pytest.importorskip("opentelemetry.sdk")
    workdir = tmp_path_factory.mktemp("studio")
    with run_collector(workdir / "data") as collector:
        examples = REPO_ROOT / "examples"
        for script in ("sweep/train_sweep.py", "logging_tour.py", "traced_training.py"):
            run_script(collector, workdir, sys.executable, str(examples / script))
        output = run_script(collector, workdir, sys.executable, str(examples / "mlflow_client.py"))
        yield Studio(collector, output, workdir)
