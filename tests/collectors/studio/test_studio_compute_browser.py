"""The studio's Compute page and run lifecycle in headless Chromium, against a real collector
running real submitted scripts (one at a time, so that a second submission waits)."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from collector_process import Collector, run_collector
from compute_helpers import LIFECYCLE, source, statuses, wait_for, wait_status
from studio_env import Page, run_script

from runlog import Experiment, Run, ScriptRunConfig, Workspace
from runlog.client import Client

pytestmark = pytest.mark.usefixtures("client_env")

WAIT = """
    import os, sys, time
    from pathlib import Path
    Path(sys.argv[1] + ".pid").write_text(str(os.getpid()))
    print("waiting for", sys.argv[1], flush=True)
    while not Path(sys.argv[1]).exists():
        time.sleep(0.05)
"""
INTERACTIVE = """
import sys, runlog
with runlog.start_run(experiment="studio-interactive", run_id=sys.argv[1]) as run:
    run.log("loss", 0.5)
"""


@pytest.fixture(scope="module")
def compute(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Collector]:
    """A collector whose local target runs one run at a time."""
    pytest.importorskip("playwright.sync_api")
    data = tmp_path_factory.mktemp("studio-compute") / "data"
    with run_collector(data, ["--max-local-runs", "1", "--cancel-grace", "2"]) as running:
        yield running


def open_page(browser: Any, endpoint: str) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    opened = Page(context.new_page(), endpoint)
    opened.page.on("console", lambda m: opened.errors.append(m.text) if m.type == "error" else None)
    opened.page.on("pageerror", lambda e: opened.errors.append(f"uncaught: {e}"))
    try:
        yield opened
    finally:
        context.close()


@pytest.fixture
def page(browser: Any, compute: Collector) -> Iterator[Page]:
    yield from open_page(browser, compute.endpoint)


def submit_waiting(endpoint: str, folder: Path, stop: Path, name: str, token: str = "") -> Run:
    config = ScriptRunConfig(str(folder), "wait.py", [str(stop)])
    return Experiment(Workspace(endpoint, token=token or None), "studio-compute").submit(
        config, name=name
    )


def row(shown: Any, run_id: str, table: str) -> Any:
    return shown.locator(f"table[aria-label='{table}'] tr[data-run='{run_id}']")


def test_compute_page_shows_the_queue_live_and_cancels_from_the_page(
    page: Page, compute: Collector, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    shown = page.open("/#/compute")
    assert "page" == shown.locator(".topnav a[data-section=compute]").get_attribute("aria-current")
    assert shown.get_by_text("No submitted runs yet").is_visible()
    assert "runlog submit -e my-experiment --target local -- train.py --alpha 0.5" in (
        shown.locator("main").inner_text()
    )
    assert "1" == shown.locator("[data-target=local] .stat b").first.inner_text()

    folder = source(tmp_path / "src", {"wait.py": WAIT})
    stop = tmp_path / "stop"
    running = submit_waiting(compute.endpoint, folder, stop, "long-one")
    queued = submit_waiting(compute.endpoint, folder, stop, "waits-its-turn")
    client = Client(compute.endpoint)
    request.addfinalizer(client.close)
    wait_status(client, running.id, {"Running"})

    # The page follows without a reload: one running, one waiting at place 1.
    queue = "Running and queued runs"
    row(shown, running.id, queue).locator(".status-running").wait_for(timeout=15_000)
    row(shown, queued.id, queue).locator(".status-queued").wait_for(timeout=15_000)
    assert "running" == row(shown, running.id, queue).locator(".position").inner_text()
    assert "#1" == row(shown, queued.id, queue).locator(".position").inner_text()
    assert "waits-its-turn" == row(shown, queued.id, queue).locator(".run-cell a").inner_text()
    assert "studio-compute" == row(shown, queued.id, queue).locator("td.clip a").inner_text()
    assert "Queued" == queued.get_status()

    # Cancel asks first: dismissed, nothing happens.
    shown.once("dialog", lambda dialog: dialog.dismiss())
    shown.get_by_role("button", name=f"Cancel run {running.id}").click()
    assert "Running" == running.get_status()

    # The queued run: canceled at once, never started.
    messages: list[str] = []
    shown.once("dialog", lambda dialog: (messages.append(dialog.message), dialog.accept()))
    shown.get_by_role("button", name=f"Cancel run {queued.id}").click()
    shown.get_by_text(f"Run {queued.id} is Canceled.").wait_for(timeout=10_000)
    assert queued.id in messages[0] and "will not start" in messages[0]
    row(shown, queued.id, "Recently finished runs").locator(".status-canceled").wait_for()
    assert ["NotStarted", "Queued", "Canceled"] == statuses(client, queued.id)

    # The running run: its process is stopped and the run ends Canceled.
    pid_file = tmp_path / "stop.pid"
    pid = int(wait_for(lambda: pid_file.exists() and pid_file.read_text().strip(), what="pid"))
    shown.once("dialog", lambda dialog: dialog.accept())
    shown.get_by_role("button", name=f"Cancel run {running.id}").click()
    finished = row(shown, running.id, "Recently finished runs")
    finished.locator(".status-canceled").wait_for(timeout=20_000)
    assert "Canceled" == running.get_status()
    assert not stop.exists()
    wait_for(lambda: not _alive(pid), 10, "the canceled script's process to end")
    assert 0 == row(shown, running.id, queue).count()
    assert shown.get_by_text("Nothing running or queued on local.").is_visible()
    assert [] == page.errors

    # Its run page shows the lifecycle, in the order the collector recorded it.
    history = statuses(client, running.id)
    assert LIFECYCLE[:4] == history[:4] and "Canceled" == history[-1]
    shown.locator(f"table[aria-label='Recently finished runs'] a[href$='{running.id}']").click()
    lifecycle = shown.locator("table[aria-label='Status history'] tbody tr")
    lifecycle.last.wait_for()
    assert history == [r.get_attribute("data-status") for r in lifecycle.all()]
    assert f"Submitted to local: wait.py {stop}" == shown.locator(".submitted").inner_text()
    assert [] == page.errors


def test_run_page_shows_an_interactive_runs_lifecycle(
    page: Page, compute: Collector, tmp_path: Path
) -> None:
    run_id = "studio-interactive-1"
    run_script(compute, tmp_path, sys.executable, "-c", INTERACTIVE, run_id)
    with Client(compute.endpoint) as client:
        history = statuses(client, run_id)

    shown = page.open(f"/#/runs/{run_id}")
    rows = shown.locator("table[aria-label='Status history'] tbody tr")

    assert ["Running", "Completed"] == history
    assert history == [r.get_attribute("data-status") for r in rows.all()]
    assert "—" == rows.last.locator("td").last.inner_text()  # the end: no duration
    assert 0 == shown.locator(".submitted").count()
    assert [] == page.errors


def test_cancel_without_the_collectors_token_is_refused_on_the_page(
    browser: Any, tmp_path: Path
) -> None:
    folder = source(tmp_path / "src", {"wait.py": WAIT})
    stop = tmp_path / "stop"
    with run_collector(tmp_path / "data", ["--max-local-runs", "1"], token="right") as guarded:
        run = submit_waiting(guarded.endpoint, folder, stop, "guarded", token="right")
        for page in open_page(browser, guarded.endpoint):
            shown = page.page
            shown.goto(guarded.endpoint + "/#/compute")
            shown.get_by_label("Token").fill("right")
            shown.get_by_role("button", name="Sign in").click()
            button = shown.get_by_role("button", name=f"Cancel run {run.id}")
            button.wait_for(timeout=15_000)
            # The collector's token changes under the page (it keeps the old one).
            shown.evaluate("localStorage.setItem('runlog.studio.token', 'stale')")

            shown.once("dialog", lambda dialog: dialog.accept())
            button.click()

            notice = shown.locator(".notice-error")
            notice.wait_for()
            assert "Not canceled: the collector refused this page's token" in notice.inner_text()
            assert notice.get_by_role("button", name="Sign in").is_visible()
            assert run.get_status() in {"Queued", "Preparing", "Running"}
        stop.write_text("done")
        with Client(guarded.endpoint, token="right") as client:
            wait_status(client, run.id, {"Completed"})


def test_a_switched_off_target_shows_why_and_no_submit_command(
    browser: Any, tmp_path: Path
) -> None:
    with run_collector(tmp_path / "data", ["--no-local-execution"]) as off:
        for page in open_page(browser, off.endpoint):
            shown = page.open("/#/compute")
            card = shown.locator("[data-target=local]")

            assert "Switched off" == card.locator(".target-state").inner_text()
            assert "--no-local-execution" in card.locator(".target-off").inner_text()
            assert shown.get_by_text("This collector runs no submitted scripts").is_visible()
            assert "runlog submit" not in shown.locator("main").inner_text()
            assert [] == page.errors


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True
