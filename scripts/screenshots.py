"""`make screenshots`: a PNG of each studio page at 1280x800, light and dark, from demo data.

Starts a collector on free loopback ports in a temporary folder, fills it the way
`make demo` does (the alpha sweep, an unchanged PyTorch script under `runlog run`, an MLflow
client script) plus the logging tour (images, tables) and the traced training example (a
timeline), then opens every page in headless Chromium and writes
``docs/screenshots/<page>-<light|dark>.png``.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "tests"), str(ROOT)]

from browser import READY, chromium_missing, launch  # noqa: E402
from collector_process import Collector, run_collector  # noqa: E402

OUT = ROOT / "docs" / "screenshots"
VIEWPORT = {"width": 1280, "height": 800}


def produce(collector: Collector, work: Path) -> None:
    """Log the demo's runs (and two more examples) into *collector*."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("RUNLOG_")}
    env |= {
        "RUNLOG_ENDPOINT": collector.endpoint,
        "RUNLOG_SPOOL_DIR": str(work / "spool"),
        "MPLBACKEND": "Agg",
        "PYTHONPATH": str(ROOT),
    }
    examples = ROOT / "examples"
    runlog_cli = [sys.executable, "-m", "runlog.cli"]
    commands = [
        [sys.executable, str(examples / "sweep" / "train_sweep.py")],
        [
            *runlog_cli,
            "run",
            "-e",
            "torch-mlp",
            "--name",
            "mlp",
            "--",
            sys.executable,
            str(examples / "autolog" / "torch_mlp.py"),
        ],
        [sys.executable, str(examples / "mlflow_client.py")],
        [sys.executable, str(examples / "logging_tour.py")],
        [sys.executable, str(examples / "traced_training.py")],
    ]
    for command in commands:
        print("logging:", " ".join(Path(part).name for part in command[1:]), flush=True)
        subprocess.run(command, cwd=work, env=env, check=True, capture_output=True)


def pages(collector: Collector) -> dict[str, str]:
    """Page name -> the address after the endpoint."""
    client = httpx.Client(base_url=collector.endpoint)

    def runs(experiment: str, order: str = "attributes.start_time DESC") -> list[Any]:
        query = {"experiment": experiment, "order_by": order}
        return list(client.get("/api/v1/runs", params=query).json()["runs"])

    def experiment_id(name: str) -> int:
        return int(client.get(f"/api/v1/experiments/{name}").json()["experiment_id"])

    sweep = runs("diabetes-sweep", "metrics.mse ASC")
    [mlp] = runs("torch-mlp")
    [tour] = runs("logging-api-tour")
    [traced] = runs("traced-training")
    return {
        "experiments": "/#/",
        "dashboard": f"/#/experiments/{experiment_id('diabetes-sweep')}",
        "run-overview": f"/#/runs/{mlp['run_id']}",
        "run-metrics": f"/#/runs/{mlp['run_id']}?tab=metrics",
        "run-tables": f"/#/runs/{tour['run_id']}?tab=metrics",
        "run-images": f"/#/runs/{tour['run_id']}?tab=images",
        "run-logs": f"/#/runs/{mlp['run_id']}?tab=logs",
        "run-timeline": f"/#/runs/{traced['run_id']}?tab=timeline",
        "run-files": f"/#/runs/{tour['run_id']}?tab=files",
        "compare": "/#/compare?runs=" + ",".join(r["run_id"] for r in sweep[:3]),
        "not-found": "/#/runs/no-such-run",
    }


def shoot(browser: Any, base: str, shots: dict[str, str], scheme: str) -> None:
    context = browser.new_context(viewport=VIEWPORT, color_scheme=scheme)
    page = context.new_page()
    for name, where in shots.items():
        page.goto("about:blank")
        page.goto(base + where)
        page.wait_for_selector(READY, timeout=30_000)
        page.wait_for_timeout(800)  # images and charts drawn after the data
        page.screenshot(path=str(OUT / f"{name}-{scheme}.png"))
        if name == "dashboard":  # the charts below the table
            page.locator(".charts-grid").scroll_into_view_if_needed()
            page.wait_for_timeout(300)
            page.screenshot(path=str(OUT / f"dashboard-charts-{scheme}.png"))
    context.close()


def sign_in(browser: Any, work: Path, schemes: list[str]) -> None:
    with run_collector(work / "guarded", token="screenshot-token") as guarded:
        for scheme in schemes:
            context = browser.new_context(viewport=VIEWPORT, color_scheme=scheme)
            page = context.new_page()
            page.goto(guarded.endpoint + "/")
            page.wait_for_selector(READY)
            page.screenshot(path=str(OUT / f"sign-in-{scheme}.png"))
            context.close()


def main(schemes: tuple[str, ...] = ("light", "dark")) -> int:
    missing = chromium_missing()
    if missing:
        print(missing, file=sys.stderr)
        return 1
    from playwright.sync_api import sync_playwright

    OUT.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp, run_collector(Path(tmp) / "data") as collector:
        produce(collector, Path(tmp))
        shots = pages(collector)
        with sync_playwright() as playwright:
            browser = launch(playwright)
            for scheme in schemes:
                shoot(browser, collector.endpoint, shots, scheme)
            sign_in(browser, Path(tmp), list(schemes))
            browser.close()
    written = sorted(OUT.glob("*.png"))
    print(f"{len(written)} screenshots in {OUT.relative_to(ROOT)}/")
    return 0


if __name__ == "__main__":
    sys.exit(main())
