"""The studio measured in a real browser (headless Chromium), against a real collector.

    python bench/studio.py [--repeat 5] [--quick]

Prints medians next to baselines measured in the same run:

- first chart of a run with 10 metrics x 1,000,000 points (from navigation start to the
  first chart drawn), against the same page for a run with 10 metrics x 100 points;
- the dashboard of an experiment with 10,000 runs: until its table is drawn (usable: its
  first 300 runs, in table order), until every run is in, and how long a sort by a metric
  takes then; against an experiment of 100 runs;
- live chart lag: from a point being logged (its timestamp) to the chart of the open run
  page drawing it, while a training loop logs a point every 20 ms.

Targets (issue 12): first chart <= 1 s, dashboard interactive <= 1 s, live lag <= 2 s.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [
    str(ROOT / "bench"),
    str(ROOT / "tests"),
    str(ROOT / "tests" / "collectors"),
    str(ROOT / "tests" / "collectors" / "studio"),
    str(ROOT),
]

from browser import READY, chromium_missing, launch  # noqa: E402
from collector_process import Collector, run_collector  # noqa: E402
from core import print_table  # noqa: E402
from otlp_builders import event, logs_request  # noqa: E402
from studio_env import LIVE_SCRIPT  # noqa: E402

from runlog import conventions as c  # noqa: E402

T0 = 1_700_000_000_000_000_000


def post(collector: Collector, request: Any) -> None:
    answer = httpx.post(
        collector.endpoint + "/v1/logs",
        content=request.SerializeToString(),
        headers={"Content-Type": "application/x-protobuf"},
        timeout=300,
    )
    answer.raise_for_status()


def long_run(collector: Collector, run_id: str, metrics: int, points: int) -> None:
    """*metrics* metrics of *points* points each, sent packed in 1M-point requests."""
    for m in range(metrics):
        for start in range(0, points, 1_000_000):
            steps = np.arange(start, min(points, start + 1_000_000), dtype="<i8")
            values = np.sin(steps / (1000.0 + 100 * m)) + m
            attributes = {
                c.METRIC_NAME: f"metric_{m:02d}",
                c.METRIC_DTYPE: "f8",
                c.METRIC_STEPS: steps.tobytes(),
                c.METRIC_TIMESTAMPS: (steps * 1000 + T0).astype("<i8").tobytes(),
                c.METRIC_VALUES: values.astype("<f8").tobytes(),
            }
            resource = {c.RUN_ID: run_id, c.EXPERIMENT: "bench-long"}
            post(
                collector, logs_request(event(c.EVENT_METRIC_PACKED, attributes), resource=resource)
            )


def many_runs(collector: Collector, experiment: str, count: int) -> None:
    """*count* finished runs, each with 3 params, 2 metrics and a tag (1,000 per request)."""
    rng = np.random.default_rng(1)
    for start in range(0, count, 1000):
        request = None
        for i in range(start, min(count, start + 1000)):
            records = [
                event(c.EVENT_PARAM, {c.KEY: "alpha", c.VALUE: f"{rng.random():.4f}"}),
                event(c.EVENT_PARAM, {c.KEY: "depth", c.VALUE: str(i % 12)}),
                event(c.EVENT_PARAM, {c.KEY: "optimizer", c.VALUE: ["adam", "sgd"][i % 2]}),
                event(c.EVENT_TAG, {c.KEY: "team", c.VALUE: "vision"}),
                event(
                    c.EVENT_METRIC,
                    {c.METRIC_NAME: "mse", c.METRIC_VALUE: float(rng.random() * 1000)},
                ),
                event(c.EVENT_METRIC, {c.METRIC_NAME: "acc", c.METRIC_VALUE: float(rng.random())}),
                event(c.EVENT_RUN_END, {}),
            ]
            resource = {c.RUN_ID: f"{experiment}-{i:05d}", c.EXPERIMENT: experiment}
            one = logs_request(*records, resource=resource)
            request = one if request is None else (request.MergeFrom(one) or request)
        post(collector, request)


def fresh(page: Any, url: str) -> None:
    page.goto("about:blank")
    page.goto(url)
    page.wait_for_selector(READY, timeout=60_000)


def first_chart_ms(page: Any, base: str, run_id: str) -> float:
    fresh(page, f"{base}/#/runs/{run_id}?tab=metrics")
    page.wait_for_selector(".linechart:not([data-points='0'])", timeout=60_000)
    return float(page.evaluate("window.__runlog.marks.firstChart"))


def dashboard_ms(page: Any, base: str, experiment_id: int) -> tuple[float, float, float]:
    """Until the table is drawn (its first page), until it holds every run, a sort."""
    fresh(page, f"{base}/#/experiments/{experiment_id}")
    page.wait_for_selector(".grid-table tbody tr:not(.spacer)", timeout=60_000)
    deadline = time.monotonic() + 60
    while page.evaluate("window.__runlog.marks.charts") is None:  # every run is in
        if time.monotonic() > deadline:
            raise RuntimeError("the dashboard did not load every run")
        time.sleep(0.05)
    marks = page.evaluate("window.__runlog.marks")
    table, every = float(marks["table"]), float(marks.get("all-runs", marks["table"]))
    sort = page.evaluate(
        """() => {
            const button = [...document.querySelectorAll('button.sort')]
                .find((b) => b.textContent.includes('mse'));
            const t0 = performance.now();
            button.click();
            return performance.now() - t0;
        }"""
    )
    return table, every, float(sort)


def live_lags_ms(page: Any, collector: Collector, work: Path, seconds: float) -> list[float]:
    stop = work / "stop-live"
    env = {k: v for k, v in os.environ.items() if not k.startswith("RUNLOG_")}
    env |= {
        "RUNLOG_ENDPOINT": collector.endpoint,
        "RUNLOG_SPOOL_DIR": str(work / "spool"),
        "PYTHONPATH": str(ROOT),
    }
    process = subprocess.Popen(
        [sys.executable, "-c", LIVE_SCRIPT, str(stop), "bench-live", "live-run"], env=env
    )
    try:
        deadline = time.monotonic() + 30
        while not httpx.get(f"{collector.endpoint}/api/v1/runs/live-run").is_success:
            if time.monotonic() > deadline:
                raise RuntimeError("the live run did not start")
            time.sleep(0.2)
        fresh(page, f"{collector.endpoint}/#/runs/live-run?tab=metrics")
        chart = page.locator("[data-metric=loss] .linechart")
        chart.wait_for()
        seen: dict[int, int] = {}
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            last, drawn = chart.get_attribute("data-last-x"), chart.get_attribute("data-drawn-at")
            if last and drawn:
                seen.setdefault(int(float(last)), int(drawn))
            time.sleep(0.02)
    finally:
        stop.touch()
        process.wait(60)
    vector = httpx.get(
        f"{collector.endpoint}/api/v1/runs/live-run/metric", params={"name": "loss"}
    ).json()
    logged_ms = dict(zip(vector["steps"], (t / 1e6 for t in vector["timestamps"]), strict=True))
    return [drawn - logged_ms[step] for step, drawn in sorted(seen.items())[1:]]


def median(values: list[float]) -> float:
    return statistics.median(values)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--quick", action="store_true", help="10 x 100k points, 1,000 runs")
    args = parser.parse_args()
    missing = chromium_missing()
    if missing:
        print(missing, file=sys.stderr)
        return 1
    from playwright.sync_api import sync_playwright

    points, runs = (100_000, 1_000) if args.quick else (1_000_000, 10_000)
    with tempfile.TemporaryDirectory() as tmp, run_collector(Path(tmp) / "data") as collector:
        print(f"logging 10 x {points:,} points and {runs:,} runs ...", flush=True)
        long_run(collector, "long", 10, points)
        long_run(collector, "short", 10, 100)
        many_runs(collector, "bench-many", runs)
        many_runs(collector, "bench-few", 100)
        ids = {
            e["name"]: e["experiment_id"]
            for e in httpx.get(f"{collector.endpoint}/api/v1/experiments").json()["experiments"]
        }
        with sync_playwright() as playwright:
            browser = launch(playwright)
            page = browser.new_context(viewport={"width": 1280, "height": 800}).new_page()
            base = collector.endpoint
            long_ms = [first_chart_ms(page, base, "long") for _ in range(args.repeat)]
            short_ms = [first_chart_ms(page, base, "short") for _ in range(args.repeat)]
            many = [dashboard_ms(page, base, ids["bench-many"]) for _ in range(args.repeat)]
            few = [dashboard_ms(page, base, ids["bench-few"]) for _ in range(args.repeat)]
            lags = live_lags_ms(page, collector, Path(tmp), 15 if args.quick else 30)
            browser.close()

    def row(label: str, ours: list[float], base: list[float], base_label: str) -> tuple[str, ...]:
        mine, theirs = median(ours), median(base)
        return (
            label,
            f"{mine:.0f}",
            f"{theirs:.0f} ({base_label})",
            f"{mine / max(theirs, 0.1):.1f}x",
        )

    rows = [
        row(f"first chart, 10 x {points:,} points (ms)", long_ms, short_ms, "10 x 100"),
        row(
            f"dashboard of {runs:,} runs, table drawn (ms)",
            [m[0] for m in many],
            [f[0] for f in few],
            "100 runs",
        ),
        row(
            f"dashboard of {runs:,} runs, every run in (ms)",
            [m[1] for m in many],
            [f[1] for f in few],
            "100 runs",
        ),
        row(
            f"dashboard of {runs:,} runs, sort by mse (ms)",
            [m[2] for m in many],
            [f[2] for f in few],
            "100 runs",
        ),
        (
            "live chart lag (ms)",
            f"{median(lags):.0f} (max {max(lags):.0f}, {len(lags)} updates)",
            "-",
            "-",
        ),
    ]
    print_table(rows, args.repeat)
    return 0


if __name__ == "__main__":
    sys.exit(main())
