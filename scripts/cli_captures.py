"""Capture `runlog runs`, `runlog show` and `runlog metrics` at 100 and 120 columns into
docs/cli/ (``python scripts/cli_captures.py``): what a user sees in a terminal, as text.

Starts a collector on free loopback ports with a temporary data directory, logs a small
sweep (long run ids, params, metrics, a 5,000-point loss curve, a table), then runs the
real `runlog` command with ``COLUMNS`` set.
"""

from __future__ import annotations

import math
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from collector_process import run_collector  # noqa: E402

import runlog  # noqa: E402

OUT = ROOT / "docs" / "cli"


def log_sweep(endpoint: str) -> tuple[str, str]:
    """Five runs of a sweep; returns the ids of the best one and of the first."""
    experiment = runlog.Experiment(runlog.Workspace(endpoint), "diabetes-sweep")
    best, best_mse = "", math.inf
    for i, alpha in enumerate([0.0, 0.1, 0.2, 0.4, 0.8]):
        run_id = f"diabetes-sweep_17963072{60 + i}_{'a1b2c3d4e5f6'[i : i + 8]}"
        run = experiment.start_logging(
            run_id=run_id, display_name=f"alpha={alpha:.2f}", params={"alpha": alpha}
        )
        run.log("alpha", alpha)
        for key in ("max_iter", "solver", "fit_intercept"):
            run.log(key, {"max_iter": 1000, "solver": "auto", "fit_intercept": True}[key])
        for step in range(5000 if i == 3 else 200):
            run.log("loss", 3000 * math.exp(-step / 700) + 300 + 40 * math.sin(step / 50))
        mse = 3300 + 500 * (alpha - 0.4) ** 2
        run.log("mse", mse)
        run.log("r2", 0.45 - (alpha - 0.4) ** 2 / 10)
        run.log("mae", mse / 70)
        run.log_row("residuals", bucket="low", count=12)
        run.log_row("residuals", bucket="high", share=0.3)
        run.tag("owner", "ana")
        run.complete()
        if mse < best_mse:
            best, best_mse = run.id, mse
    return best, f"diabetes-sweep_1796307260_{'a1b2c3d4e5f6'[0:8]}"


def capture(endpoint: str, name: str, *args: str) -> None:
    for width in (100, 120):
        env = {**os.environ, "COLUMNS": str(width), "RUNLOG_ENDPOINT": endpoint, "TZ": "UTC"}
        result = subprocess.run(
            [sys.executable, "-m", "runlog.cli", *args],
            capture_output=True,
            text=True,
            env=env,
            timeout=120,
            check=True,
        )
        text = f"$ runlog {' '.join(args)}\n{result.stdout}{result.stderr}"
        (OUT / f"{name}-{width}.txt").write_text(text)


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp, run_collector(Path(tmp) / "data") as collector:
        os.environ["RUNLOG_SPOOL_DIR"] = str(Path(tmp) / "spool")
        best, first = log_sweep(collector.endpoint)
        capture(collector.endpoint, "runs", "runs", "-e", "diabetes-sweep")
        capture(collector.endpoint, "runs-all", "runs")
        capture(collector.endpoint, "show", "show", best)
        capture(collector.endpoint, "metrics", "metrics", best, "loss")
        capture(collector.endpoint, "compare", "compare", first, best)
    print(f"wrote {len(list(OUT.glob('*.txt')))} captures to {OUT.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
