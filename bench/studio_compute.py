"""The studio's Compute page measured in headless Chromium against a real collector.

    python bench/studio_compute.py [--repeat 5]

The collector's ``local`` target runs one run at a time and one script holds it, so every
measured submission waits in the queue. Prints medians next to baselines measured in the
same run:

- a submission on the open Compute page: from calling ``submit()`` to its row drawn (the
  live stream, else the page's poll), against ``submit()`` returning;
- Cancel from the page: from the click (the confirmation accepted at once) to the run shown
  Canceled among the finished ones, against the cancel route called directly;
- the page opened with every measured run queued or finished, against the experiments page.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import textwrap
import time
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "bench"), str(ROOT / "tests"), str(ROOT)]

from browser import READY, chromium_missing, launch  # noqa: E402
from collector_process import Collector, run_collector  # noqa: E402
from core import print_table  # noqa: E402

from runlog import Experiment, ScriptRunConfig, Workspace  # noqa: E402

WAIT = """
    import sys, time
    from pathlib import Path
    while not Path(sys.argv[1]).exists():
        time.sleep(0.05)
"""


def ms_since(start: float) -> float:
    return (time.perf_counter() - start) * 1000


def open_ms(page: Any, url: str) -> float:
    page.goto("about:blank")
    start = time.perf_counter()
    page.goto(url)
    page.wait_for_selector(READY, timeout=30_000)
    return ms_since(start)


def measure(
    collector: Collector, page: Any, folder: Path, stop: Path, repeat: int
) -> dict[str, Any]:
    experiment = Experiment(Workspace(collector.endpoint), "bench-compute")
    config = ScriptRunConfig(str(folder), "wait.py", [str(stop)])
    blocker = experiment.submit(config, name="holds-the-slot")
    while blocker.get_status() != "Running":
        time.sleep(0.05)
    page.goto(collector.endpoint + "/#/compute")
    page.wait_for_selector(READY)
    page.on("dialog", lambda dialog: dialog.accept())
    out: dict[str, list[float]] = {"shown": [], "submit": [], "cancel": [], "api": []}
    with httpx.Client(base_url=collector.endpoint) as client:
        for i in range(repeat):
            start = time.perf_counter()
            run = experiment.submit(config, name=f"page-{i}")
            out["submit"].append(ms_since(start))
            page.wait_for_selector(f"tr[data-run='{run.id}']", timeout=30_000)
            out["shown"].append(ms_since(start))

            start = time.perf_counter()
            page.get_by_role("button", name=f"Cancel run {run.id}").click()
            finished = f"table[aria-label='Recently finished runs'] tr[data-run='{run.id}']"
            page.wait_for_selector(f"{finished} .status-canceled", timeout=30_000)
            out["cancel"].append(ms_since(start))

            other = experiment.submit(config, name=f"api-{i}")
            start = time.perf_counter()
            status = client.post(f"/api/v1/runs/{other.id}/cancel").json()["status"]
            out["api"].append(ms_since(start))
            if status != "Canceled":
                raise RuntimeError(f"a queued run's cancel answered {status}, not Canceled")
    base = collector.endpoint
    out["page"] = [open_ms(page, base + "/#/compute") for _ in range(repeat)]
    out["experiments"] = [open_ms(page, base + "/#/") for _ in range(repeat)]
    stop.write_text("done")
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    missing = chromium_missing()
    if missing:
        print(missing, file=sys.stderr)
        return 1
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory() as tmp, sync_playwright() as playwright:
        work = Path(tmp)
        folder = work / "src"
        folder.mkdir()
        (folder / "wait.py").write_text(textwrap.dedent(WAIT).lstrip())
        browser = launch(playwright)
        page = browser.new_context(viewport={"width": 1280, "height": 800}).new_page()
        with run_collector(work / "data", ["--max-local-runs", "1"]) as collector:
            found = measure(collector, page, folder, work / "stop", args.repeat)
        browser.close()

    def row(label: str, ours: str, base: str, base_label: str) -> tuple[str, str, str, str]:
        mine, theirs = statistics.median(found[ours]), statistics.median(found[base])
        return label, f"{mine:.0f}", f"{theirs:.0f} ({base_label})", f"{mine / theirs:.1f}x"

    runs = 2 * args.repeat + 1
    print_table(
        [
            row("queued run drawn on the open page (ms)", "shown", "submit", "submit() returns"),
            row("Cancel click to Canceled shown (ms)", "cancel", "api", "cancel route"),
            row(f"Compute page ready, {runs} runs (ms)", "page", "experiments", "experiments"),
        ],
        args.repeat,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
