"""scikit-learn autolog overhead: `python bench/autolog_sklearn.py` prints a table of medians.

``Ridge.fit`` on the diabetes data (442 x 10, bundled with scikit-learn) without
instrumentation (the baseline, measured in the same process), then with
`SklearnInstrumentor` against a real collector process, with and without model saving.
Every fit makes its own run (no run is active), as in an alpha sweep.

Two views of the same loop of back-to-back fits:

* ``training thread CPU``: the CPU time of the thread that calls ``fit``: what runlog adds
  to the training call itself (run start, params, tags, the training-set metrics with their
  one ``predict``, the model snapshot), unaffected by other processes on shared cores;
* ``wall clock``: what the loop really takes, while runlog's background thread (joblib
  dump, staging the upload) and exporter thread compete for the GIL and the collector
  process for the cores: what a sweep pays, on this machine.

``--mlflow`` adds MLflow's ``mlflow.sklearn.autolog()`` (SQLite store and artifacts in a
temporary folder, the local setup MLflow recommends) for comparison.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from core import print_table, running_collector

from runlog import conventions as c

Row = tuple[str, str, str, str]


def per_fit(fit: Callable[[], Any], fits: int, drain: Callable[[], Any]) -> tuple[float, float]:
    """Milliseconds per fit in a loop of *fits* back-to-back fits: (wall clock, training
    thread CPU time). Background work left over is drained outside the timing."""
    drain()
    wall, cpu = time.perf_counter(), time.thread_time()
    for _ in range(fits):
        fit()
    cpu, wall = time.thread_time() - cpu, time.perf_counter() - wall
    drain()
    return wall / fits * 1e3, cpu / fits * 1e3


CONFIGS = {"base": None, "nomodels": False, "models": True}


def measure(repeat: int, fits: int) -> dict[str, float]:
    """Medians over *repeat* rounds; each round measures every configuration in turn, so
    that a machine whose speed drifts (shared cores) affects them alike."""
    from sklearn.datasets import load_diabetes
    from sklearn.linear_model import Ridge

    from runlog.instrumentation.sklearn import SklearnInstrumentor

    X, y = load_diabetes(return_X_y=True)

    def fit() -> None:
        Ridge(alpha=0.5).fit(X, y)

    instrumentor = SklearnInstrumentor()
    samples: dict[str, list[float]] = {}
    for _ in range(20):
        fit()  # warm-up: imports, caches
    for _ in range(repeat):
        for key, models in CONFIGS.items():
            if models is not None:
                instrumentor.instrument(log_models=models)
                fit()  # warm-up of the run machinery
            drain = instrumentor.flush if models is not None else lambda: True
            wall, cpu = per_fit(fit, fits, drain)
            samples.setdefault(f"{key}_wall", []).append(wall)
            samples.setdefault(f"{key}_cpu", []).append(cpu)
            if models is not None:
                instrumentor.uninstrument()
    return {key: statistics.median(values) for key, values in samples.items()}


def measure_mlflow(fits: int, tmp: Path) -> float | None:
    """MLflow autolog's milliseconds per fit (SQLite store), or None without mlflow."""
    try:
        import mlflow
        import mlflow.sklearn
    except ImportError:
        return None
    from sklearn.datasets import load_diabetes
    from sklearn.linear_model import Ridge

    X, y = load_diabetes(return_X_y=True)
    mlflow.set_tracking_uri(f"sqlite:///{tmp / 'mlflow.db'}")
    artifacts = (tmp / "mlflow-artifacts").as_uri()
    mlflow.set_experiment(experiment_id=mlflow.create_experiment("bench", artifacts))
    mlflow.sklearn.autolog(silent=True)
    try:
        Ridge().fit(X, y)  # warm-up
        per_fit_ms = per_fit(lambda: Ridge(alpha=0.5).fit(X, y), fits, lambda: None)[0]
    finally:
        mlflow.sklearn.autolog(disable=True)
    if len(mlflow.search_runs()) != fits + 1:
        raise RuntimeError("MLflow autolog did not record one run per fit; its figure is void")
    return per_fit_ms


def rows(results: dict[str, float], mlflow: float | None) -> list[Row]:
    def row(label: str, key: str, view: str) -> Row:
        value, base = results[f"{key}_{view}"], results[f"base_{view}"]
        return (
            label,
            f"{value:.3f} ms/fit (+{value - base:.3f} ms)",
            f"plain Ridge.fit {base:.3f} ms",
            f"{value / base:.2f}x",
        )

    table = [
        row("autolog, log_models=False: training thread CPU", "nomodels", "cpu"),
        row("autolog, log_models=True: training thread CPU", "models", "cpu"),
        row("autolog, log_models=False: wall clock", "nomodels", "wall"),
        row("autolog, log_models=True: wall clock, incl. bg save", "models", "wall"),
    ]
    if mlflow is not None:
        base = results["base_wall"]
        table.append(
            (
                "mlflow.sklearn.autolog(): wall clock (SQLite store)",
                f"{mlflow:.3f} ms/fit (+{mlflow - base:.3f} ms)",
                f"plain Ridge.fit {base:.3f} ms",
                f"{mlflow / base:.1f}x",
            )
        )
    return table


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--fits", type=int, default=100, help="fits per measurement")
    parser.add_argument("--mlflow", action="store_true", help="also measure MLflow autolog")
    args = parser.parse_args(argv)
    with running_collector() as (collector, tmp):
        os.environ[c.ENV_ENDPOINT] = collector.endpoint
        os.environ[c.ENV_EXPERIMENT] = "bench-autolog-sklearn"
        results = measure(args.repeat, args.fits)
        mlflow = measure_mlflow(max(args.fits // 5, 5), tmp) if args.mlflow else None
    print_table(rows(results, mlflow), args.repeat)


if __name__ == "__main__":
    main()
