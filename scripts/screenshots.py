"""`make screenshots`: a PNG of each studio page at 1280x800, light and dark, from demo data.

Starts a collector on free loopback ports in a temporary folder, fills it the way
`make demo` does (the alpha sweep, an unchanged PyTorch script under `runlog run`, an MLflow
client script) plus the logging tour (images, tables) and the traced training example (a
timeline), then opens every page in headless Chromium and writes
``docs/screenshots/<page>-<light|dark>.png``. Last it submits scripts to the collector's
``local`` target (one at a time: one finishes, one runs, two wait, one is canceled) for the
Compute page and a run's lifecycle. ``python scripts/screenshots.py compute`` shoots only
those.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "tests"), str(ROOT)]

from browser import READY, chromium_missing, launch  # noqa: E402
from collector_process import Collector, run_collector  # noqa: E402

OUT = ROOT / "docs" / "screenshots"
VIEWPORT = {"width": 1280, "height": 800}
#: The Compute page's demo: a short training script, and one that runs until a file appears.
TRAIN = """
    import sys, time
    from runlog import Run
    run = Run.get_context()
    for step in range(20):
        run.log("loss", 1.0 / (step + 1), step=step)
        print("step", step, flush=True)
        time.sleep(0.05)
"""
WAIT = """
    import sys, time
    from pathlib import Path
    print("waiting for", sys.argv[1], flush=True)
    while not Path(sys.argv[1]).exists():
        time.sleep(0.1)
"""


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


def submit_demo(collector: Collector, work: Path) -> tuple[dict[str, str], Path]:
    """Submit the Compute page's demo runs; return its pages and the file that ends them."""
    from runlog import Experiment, ScriptRunConfig, Workspace

    folder = work / "submitted"
    folder.mkdir()
    (folder / "train.py").write_text(textwrap.dedent(TRAIN).lstrip())
    (folder / "wait.py").write_text(textwrap.dedent(WAIT).lstrip())
    stop = work / "stop-submitted"
    ws = Workspace(collector.endpoint)
    sweep = Experiment(ws, "image-segmentation-unet-learning-rate-and-batch-size-sweep")
    train = ScriptRunConfig(str(folder), "train.py", ["--lr", 0.01])
    done = sweep.submit(train, name="unet-lr-0.01")
    done.wait_for_completion()
    waits = [
        sweep.submit(ScriptRunConfig(str(folder), "wait.py", [str(stop)]), name=name)
        for name in ("unet-lr-0.003-batch-64-long-running-with-augmentation", "unet-lr-0.001")
    ]
    nightly = Experiment(ws, "nightly-eval")
    waits.append(nightly.submit(ScriptRunConfig(str(folder), "wait.py", [str(stop)])))
    nightly.submit(ScriptRunConfig(str(folder), "train.py"), name="superseded").cancel()
    deadline = time.monotonic() + 60
    while waits[0].get_status() != "Running" and time.monotonic() < deadline:
        time.sleep(0.2)
    return {"compute": "/#/compute", "run-lifecycle": f"/#/runs/{done.id}"}, stop


def wait_idle(collector: Collector, timeout_s: float = 60) -> None:
    """Wait until nothing is queued or running on the collector's compute targets."""
    deadline = time.monotonic() + timeout_s
    with httpx.Client(base_url=collector.endpoint) as client:
        while client.get("/api/v1/compute/queue").json()["runs"] and time.monotonic() < deadline:
            time.sleep(0.2)


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
        if name == "run-lifecycle":  # the overview's lifecycle card
            page.locator(".lifecycle-card").scroll_into_view_if_needed()
            page.wait_for_timeout(300)
            page.screenshot(path=str(OUT / f"{name}-{scheme}.png"))
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


def main(only_compute: bool = False, schemes: tuple[str, ...] = ("light", "dark")) -> int:
    missing = chromium_missing()
    if missing:
        print(missing, file=sys.stderr)
        return 1
    from playwright.sync_api import sync_playwright

    OUT.mkdir(parents=True, exist_ok=True)
    args = ["--max-local-runs", "1", "--cancel-grace", "2"]
    with (
        tempfile.TemporaryDirectory() as tmp,
        run_collector(Path(tmp) / "data", args) as collector,
        sync_playwright() as playwright,
    ):
        browser = launch(playwright)
        if not only_compute:
            produce(collector, Path(tmp))
            shots = pages(collector)
            for scheme in schemes:
                shoot(browser, collector.endpoint, shots, scheme)
            sign_in(browser, Path(tmp), list(schemes))
        for scheme in schemes:
            shoot(browser, collector.endpoint, {"compute-empty": "/#/compute"}, scheme)
        print("submitting: the Compute page's runs", flush=True)
        shots, stop = submit_demo(collector, Path(tmp))
        try:
            for scheme in schemes:
                shoot(browser, collector.endpoint, shots, scheme)
        finally:
            stop.touch()  # the waiting runs end; the collector does not stop running runs
            wait_idle(collector)
        browser.close()
    written = sorted(OUT.glob("*.png"))
    print(f"{len(written)} screenshots in {OUT.relative_to(ROOT)}/")
    return 0


if __name__ == "__main__":
    sys.exit(main(only_compute=sys.argv[1:] == ["compute"]))
