"""scikit-learn autolog overhead: `python bench/autolog_sklearn.py` prints a table of medians.

Each workload runs as a loop of back-to-back calls without instrumentation (the baseline,
measured in the same process and the same rounds), with runlog's autolog (defaults:
training metrics and the model saved) against a real collector process, and with
with ``log_models=False``, and with ``--mlflow`` with ``mlflow.sklearn.autolog(log_models=False)``
(SQLite store and artifacts in a temporary folder, the local setup MLflow recommends; with
its default ``log_models=True`` MLflow infers the pip requirements of every model in a
subprocess, seconds per fit, over 100 s on a loaded 2-core machine, so that is left out).
No run is active, so every top-level fit makes its own run, as in a sweep under plain
``autolog()``.

Workloads: ``LinearRegression.fit`` on the diabetes data (442 x 10), ``SVC.fit`` on the
digits data (1,797 x 64; both bundled with scikit-learn), ``cross_val_score(SVC(),
digits, cv=5)``, and ``LinearRegression.fit`` on 200,000 x 20 made here (training metrics
above 10,000 rows use a sample).

Each loop is timed until its work is done: runlog's background work (model save and
upload) and the collector's acknowledgement are waited for inside the timing. Two views:

* ``process CPU``: CPU time of the whole Python process, every thread (the training
  thread, runlog's background and exporter threads; MLflow's SQLite writes): what the
  machine pays, unlike the training thread's CPU alone;
* ``wall``: the loop's elapsed time.

The collector is another process: its CPU is shown separately (``collector CPU``). Medians
over ``--repeat`` rounds; each round runs every configuration in turn, so a machine whose
speed drifts (shared cores) affects them alike.
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


def workloads(quick: bool) -> dict[str, tuple[Callable[[], Any], int]]:
    """Name -> (one call, calls per loop)."""
    import numpy as np
    from sklearn import model_selection
    from sklearn.datasets import load_diabetes, load_digits
    from sklearn.linear_model import LinearRegression
    from sklearn.svm import SVC

    Xd, yd = load_diabetes(return_X_y=True)
    Xg, yg = load_digits(return_X_y=True)
    rng = np.random.default_rng(0)
    Xl = rng.normal(size=(200_000, 20))
    yl = Xl @ rng.normal(size=20) + rng.normal(size=200_000)
    scale = 0.5 if quick else 1.0
    return {
        "LinearRegression.fit, diabetes 442x10": (
            lambda: LinearRegression().fit(Xd, yd),
            int(60 * scale),
        ),
        "SVC.fit, digits 1797x64": (lambda: SVC().fit(Xg, yg), int(10 * scale)),
        "cross_val_score(SVC(), digits, cv=5)": (
            lambda: model_selection.cross_val_score(SVC(), Xg, yg, cv=5),
            max(int(3 * scale), 2),
        ),
        "LinearRegression.fit, 200000x20": (
            lambda: LinearRegression().fit(Xl, yl),
            max(int(5 * scale), 2),
        ),
    }


class Config:
    """One way of running the workloads: set up, drain (inside the timing), tear down."""

    def __init__(
        self,
        name: str,
        setup: Callable[[], Any] = lambda: None,
        drain: Callable[[], Any] = lambda: None,
        teardown: Callable[[], Any] = lambda: None,
    ) -> None:
        self.name, self.setup, self.drain, self.teardown = name, setup, drain, teardown


def runlog_config(log_models: bool) -> Config:
    from runlog.instrumentation.sklearn import SklearnInstrumentor

    instrumentor = SklearnInstrumentor()

    def drain() -> None:
        if not instrumentor.flush(120):
            raise RuntimeError("runlog's background work did not finish; figures void")

    name = "runlog" if log_models else "runlog, log_models=False"
    return Config(
        name,
        lambda: instrumentor.instrument(log_models=log_models),
        drain,
        instrumentor.uninstrument,
    )


def mlflow_config(tmp: Path) -> Config | None:
    try:
        import mlflow
        import mlflow.sklearn
    except ImportError:
        return None
    mlflow.set_tracking_uri(f"sqlite:///{tmp / 'mlflow.db'}")
    artifacts = (tmp / "mlflow-artifacts").as_uri()
    mlflow.set_experiment(experiment_id=mlflow.create_experiment("bench", artifacts))
    return Config(
        "mlflow, log_models=False",
        lambda: mlflow.sklearn.autolog(silent=True, log_models=False),
        teardown=lambda: mlflow.sklearn.autolog(disable=True),
    )


def timed(call: Callable[[], Any], count: int, drain: Callable[[], Any], collector: Any) -> Any:
    """(wall, process CPU, collector CPU) in ms per call of a loop of *count* calls."""
    import psutil

    other = psutil.Process(collector.process.pid)
    before = other.cpu_times()
    wall, cpu = time.perf_counter(), time.process_time()
    for _ in range(count):
        call()
    drain()
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    after = other.cpu_times()
    collector_cpu = (after.user + after.system) - (before.user + before.system)
    return wall / count * 1e3, cpu / count * 1e3, collector_cpu / count * 1e3


def measure(
    configs: list[Config], loads: dict[str, tuple[Callable[[], Any], int]], repeat: int, coll: Any
) -> dict[tuple[str, str, str], float]:
    """Medians keyed by (workload, config, view)."""
    samples: dict[tuple[str, str, str], list[float]] = {}
    for call, _ in loads.values():
        for config in configs:  # warm-up: imports, caches, the run machinery
            config.setup()
            call()
            config.drain()
            config.teardown()
    for _ in range(repeat):
        for config in configs:
            config.setup()
            try:
                for name, (call, count) in loads.items():
                    print(f"  {config.name}: {name} x{count}", file=sys.stderr, flush=True)
                    views = timed(call, count, config.drain, coll)
                    for view, value in zip(("wall", "cpu", "collector"), views, strict=True):
                        samples.setdefault((name, config.name, view), []).append(value)
            finally:
                config.teardown()
    return {key: statistics.median(values) for key, values in samples.items()}


def rows(
    results: dict[tuple[str, str, str], float], loads: list[str], names: list[str]
) -> list[Row]:
    table: list[Row] = []
    for load in loads:
        for view, label in (("cpu", "process CPU"), ("wall", "wall")):
            base = results[(load, "base", view)]
            for name in names:
                value = results[(load, name, view)]
                extra = ""
                if name.startswith("runlog") and view == "cpu":
                    extra = f"; collector CPU {results[(load, name, 'collector')]:.2f} ms"
                table.append(
                    (
                        f"{load}: {label}, {name}",
                        f"{value:.2f} ms/call (+{value - base:.2f} ms{extra})",
                        f"no autolog {base:.2f} ms",
                        f"{value / base:.2f}x",
                    )
                )
    return table


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--quick", action="store_true", help="half the calls per loop")
    parser.add_argument("--mlflow", action="store_true", help="also measure MLflow autolog")
    args = parser.parse_args(argv)
    loads = workloads(args.quick)
    with running_collector() as (collector, tmp):
        os.environ[c.ENV_ENDPOINT] = collector.endpoint
        os.environ[c.ENV_EXPERIMENT] = "bench-autolog-sklearn"
        configs = [Config("base"), runlog_config(True), runlog_config(False)]
        mlflow = mlflow_config(tmp) if args.mlflow else None
        if mlflow is not None:
            configs.append(mlflow)
        results = measure(configs, loads, args.repeat, collector)
    names = [config.name for config in configs if config.name != "base"]
    print_table(rows(results, list(loads), names), args.repeat)


if __name__ == "__main__":
    main()
