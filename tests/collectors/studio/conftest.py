"""Browser fixtures: Debian's chromium driven by Playwright, and a collector with real runs.

`make test` installs chromium (apt) and playwright (the dev extra); where either is missing
the browser tests are skipped with the reason.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from typing import Any

import pytest
from browser import chromium_missing, launch
from collector_process import REPO_ROOT, run_collector
from studio_env import Page, Studio, run_script


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """One headless Chromium per test module.

    Not per session: while Playwright's sync API is open, an asyncio loop counts as running
    in the main thread, and later tests that call ``asyncio.run`` would fail.
    """
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
