"""The same MLflow client workload against `mlflow server` and the collector, side by side.

``python bench/mlflow_compare.py`` starts a real ``mlflow server`` (SQLite backend store,
proxied artifacts, MLflow's default 4 workers, loopback) and a real collector, then drives
both with the unchanged ``mlflow`` client (``MlflowClient``, synchronous calls):

* ``log_metric`` loop: ``--calls`` synchronous calls, ms per call;
* ``log_batch`` ingest: ``--batches`` batches of 1,000 points of one metric, points/s; and
  the same JSON bodies POSTed with httpx, which leaves out the client's serialization;
* ``get_metric_history`` of that metric (100,000 points by default), s; and the same pages
  fetched over plain REST (httpx + json), which leaves out the client's own parsing;
* ``search_runs`` over ``--runs`` runs (5 params, 5 metrics, 2 tags each), one filtered
  query and all runs (paged by 1,000), s. The runs are made the same way on both servers,
  through the client (``create_run`` + ``log_batch``, 8 threads); that is timed too.
* MLflow 3 logged models: ``--models`` models made without a run (``create_logged_model``
  with params and tags, a metric linked with ``log_batch(model_id=...)``, finalize), ms per
  model; ``search_logged_models`` with a metric, param and ``model_id IN`` filter, s.
* the model registry: a version registered from each logged model
  (``create_model_version``), ms per version; ``search_model_versions`` of the model, s;
  ``get_model_version_by_alias``, ms; ``mlflow.pyfunc.load_model("models:/<name>@<alias>")``
  of a small scikit-learn model (alias lookup, download, load), s.

Each row is the median of ``--repeat`` rounds; the last column, mlflow/collector, is how many
times faster the collector is (mlflow time / collector time: > 1 means the collector is ahead).
Results are cross-checked (history length, search hits) so a fast wrong answer cannot win.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "bench"), str(ROOT / "tests"), str(ROOT)]

import httpx  # noqa: E402
from core import running_collector  # noqa: E402
from mlflow_server import run_mlflow_server  # noqa: E402

# Fail loudly instead of retrying with back-off; a 100k-point history read takes seconds.
os.environ["MLFLOW_HTTP_REQUEST_MAX_RETRIES"] = "0"
os.environ["MLFLOW_HTTP_REQUEST_TIMEOUT"] = "600"

import mlflow  # noqa: E402
from mlflow import MlflowClient  # noqa: E402
from mlflow.entities import Metric, Param, RunTag  # noqa: E402

BATCH = 1000  # MLflow's limit of metrics per log-batch request
HISTORY = "/api/2.0/mlflow/metrics/get-history"
LOG_BATCH = "/api/2.0/mlflow/runs/log-batch"
FILTER = "metrics.acc > 0.9 and params.optimizer = 'adam'"


def median_of(repeat: int, measure: Callable[[], float]) -> float:
    return statistics.median(measure() for _ in range(repeat))


class Workload:
    """The measured MLflow client calls against one tracking URI."""

    def __init__(self, uri: str, args: argparse.Namespace) -> None:
        self.client = MlflowClient(tracking_uri=uri)
        self.uri = uri
        self.args = args
        self.experiment = self.client.create_experiment(f"bench-{time.time_ns()}")
        self.history_run = ""

    def new_run(self, name: str) -> str:
        return str(self.client.create_run(self.experiment, run_name=name).info.run_id)

    def log_metric_ms(self) -> float:
        """Milliseconds per synchronous ``log_metric`` call."""
        run, calls = self.new_run("log-metric"), self.args.calls
        start = time.perf_counter()
        for i in range(calls):
            self.client.log_metric(run, "loss", 1.0 / (i + 1), step=i, synchronous=True)
        return (time.perf_counter() - start) * 1000 / calls

    def log_batch_s(self) -> float:
        """Seconds to log ``--batches`` batches of 1,000 points; keeps the first run."""
        run = self.new_run("log-batch")
        self.history_run = self.history_run or run
        now = int(time.time() * 1000)
        batches = [
            [Metric("loss", 1.0 / (s + 1), now + s, s) for s in range(b * BATCH, (b + 1) * BATCH)]
            for b in range(self.args.batches)
        ]
        start = time.perf_counter()
        for batch in batches:
            self.client.log_batch(run, metrics=batch, synchronous=True)
        return time.perf_counter() - start

    def log_batch_raw_s(self) -> float:
        """The same batches as JSON bodies POSTed with httpx: no client serialization."""
        run, now = self.new_run("log-batch-raw"), int(time.time() * 1000)
        bodies = [
            json.dumps(
                {
                    "run_id": run,
                    "metrics": [
                        {"key": "loss", "value": 1.0 / (s + 1), "timestamp": now + s, "step": s}
                        for s in range(b * BATCH, (b + 1) * BATCH)
                    ],
                }
            )
            for b in range(self.args.batches)
        ]
        headers = {"Content-Type": "application/json"}
        with httpx.Client(base_url=self.uri, timeout=600) as http:
            start = time.perf_counter()
            for body in bodies:
                http.post(LOG_BATCH, content=body, headers=headers).raise_for_status()
            return time.perf_counter() - start

    def history_s(self) -> float:
        start = time.perf_counter()
        points = self.client.get_metric_history(self.history_run, "loss")
        elapsed = time.perf_counter() - start
        expected = self.args.batches * BATCH
        if len(points) != expected:
            raise RuntimeError(f"history has {len(points)} points, expected {expected}")
        return elapsed

    def history_raw_s(self) -> float:
        """The same history over plain REST (httpx + json, pages of 25,000): no client objects."""
        start, count, token = time.perf_counter(), 0, None
        with httpx.Client(base_url=self.uri, timeout=600) as http:
            while True:
                query = {"run_id": self.history_run, "metric_key": "loss", "max_results": 25_000}
                query |= {"page_token": token} if token else {}
                body = http.get(HISTORY, params=query).raise_for_status().json()
                count, token = count + len(body.get("metrics", [])), body.get("next_page_token")
                if not token:
                    break
        elapsed = time.perf_counter() - start
        if count != self.args.batches * BATCH:
            raise RuntimeError(f"raw history has {count} points")
        return elapsed

    def create_search_runs(self) -> float:
        """Make ``--runs`` runs in a fresh experiment (8 client threads); return seconds."""
        self.search_experiment = self.client.create_experiment(f"bench-search-{time.time_ns()}")
        start = time.perf_counter()
        with ThreadPoolExecutor(8) as pool:
            list(pool.map(self._make_run, range(self.args.runs)))
        return time.perf_counter() - start

    def _make_run(self, i: int) -> None:
        tags = {"team": ("vision", "nlp")[i % 2], "seed": str(i)}
        run = self.client.create_run(self.search_experiment, run_name=f"run-{i}", tags=tags)
        metrics = [Metric(k, v, 0, 0) for k, v in run_metrics(i).items()]
        params = [Param(k, v) for k, v in run_params(i).items()]
        self.client.log_batch(run.info.run_id, metrics, params, [RunTag("kind", "bench")])

    def search_filtered(self) -> tuple[float, int]:
        start = time.perf_counter()
        found = self.client.search_runs([self.search_experiment], FILTER, max_results=1000)
        return time.perf_counter() - start, len(found)

    def search_all(self) -> tuple[float, int]:
        start, count, token = time.perf_counter(), 0, None
        while True:
            page = self.client.search_runs(
                [self.search_experiment], max_results=1000, page_token=token
            )
            count, token = count + len(page), page.token
            if not token:
                return time.perf_counter() - start, count

    # --- logged models and the registry ------------------------------------------------------

    def logged_models_s(self) -> float:
        """Make ``--models`` logged models (no run), each with a linked metric; seconds."""
        self.models_experiment = self.client.create_experiment(f"bench-models-{time.time_ns()}")
        linker = self.client.create_run(self.models_experiment).info.run_id
        self.model_ids = []
        start = time.perf_counter()
        for i in range(self.args.models):
            model = self.client.create_logged_model(
                self.models_experiment,
                name=f"model-{i}",
                params={"kind": "bench", "i": str(i)},
                tags={"team": ("vision", "nlp")[i % 2]},
            )
            acc = Metric("acc", (i % 10) / 10, 0, 0, model_id=model.model_id)
            self.client.log_batch(linker, metrics=[acc])
            self.client.finalize_logged_model(model.model_id, "READY")
            self.model_ids.append(model.model_id)
        return time.perf_counter() - start

    def search_models(self) -> tuple[float, int]:
        some = ", ".join(f"'{m}'" for m in self.model_ids[::2])
        filter_string = f"metrics.acc > 0.45 and params.kind = 'bench' and model_id IN ({some})"
        start = time.perf_counter()
        found = self.client.search_logged_models([self.models_experiment], filter_string)
        return time.perf_counter() - start, len(found)

    def register_versions_s(self) -> float:
        """A version of one registered model from each logged model; seconds."""
        self.registered = f"bench-registry-{time.time_ns()}"
        self.client.create_registered_model(self.registered)
        start = time.perf_counter()
        for model_id in self.model_ids:
            self.client.create_model_version(
                self.registered, f"models:/{model_id}", model_id=model_id
            )
        elapsed = time.perf_counter() - start
        self.client.set_registered_model_alias(self.registered, "champion", "1")
        return elapsed

    def search_versions(self) -> tuple[float, int]:
        start = time.perf_counter()
        found = self.client.search_model_versions(f"name = '{self.registered}'")
        return time.perf_counter() - start, len(found)

    def alias_ms(self) -> float:
        calls = 20
        start = time.perf_counter()
        for _ in range(calls):
            self.client.get_model_version_by_alias(self.registered, "champion")
        return (time.perf_counter() - start) * 1000 / calls

    def load_model_s(self) -> float:
        """``pyfunc.load_model`` of a registered scikit-learn model through its alias."""
        if not hasattr(self, "served"):
            self.served = self._register_sklearn_model()
        with tempfile.TemporaryDirectory() as dst:
            start = time.perf_counter()
            mlflow.pyfunc.load_model(f"models:/{self.served}@champion", dst_path=dst)
            return time.perf_counter() - start

    def _register_sklearn_model(self) -> str:
        from sklearn.linear_model import LinearRegression

        mlflow.set_tracking_uri(self.uri)
        fitted = LinearRegression().fit([[0.0], [1.0], [2.0]], [0.0, 1.0, 2.0])
        info = mlflow.sklearn.log_model(fitted, name="m", pip_requirements=["scikit-learn"])
        name = f"bench-served-{time.time_ns()}"
        version = mlflow.register_model(f"models:/{info.model_id}", name)
        self.client.set_registered_model_alias(name, "champion", version.version)
        return name


def run_metrics(i: int) -> dict[str, float]:
    return {"acc": (i % 100) / 100, "loss": 1 / (i + 1), "f1": 0.5, "auc": 0.7, "epochs": i % 7}


def run_params(i: int) -> dict[str, str]:
    optimizer = ("adam", "sgd", "rmsprop")[i % 3]
    return {
        "optimizer": optimizer,
        "lr": str(10 ** -(i % 4)),
        "batch": "32",
        "layers": "4",
        "i": str(i),
    }


def expected_hits(runs: int) -> int:
    return sum(
        run_metrics(i)["acc"] > 0.9 and run_params(i)["optimizer"] == "adam" for i in range(runs)
    )


def measure(uri: str, args: argparse.Namespace) -> dict[str, float]:
    """Every row's median for one server."""
    work = Workload(uri, args)
    out = {"log_metric_ms": median_of(args.repeat, work.log_metric_ms)}
    out["log_batch_pts_s"] = args.batches * BATCH / median_of(args.repeat, work.log_batch_s)
    out["log_batch_raw_pts_s"] = args.batches * BATCH / median_of(args.repeat, work.log_batch_raw_s)
    out["history_s"] = median_of(args.repeat, work.history_s)
    out["history_raw_s"] = median_of(args.repeat, work.history_raw_s)
    out["create_runs_s"] = work.create_search_runs()
    out["search_filtered_s"] = median_of(
        args.repeat, lambda: checked(work.search_filtered, expected_hits(args.runs))
    )
    out["search_all_s"] = median_of(args.repeat, lambda: checked(work.search_all, args.runs))
    out["logged_model_ms"] = work.logged_models_s() * 1000 / args.models
    hits = sum(1 for i in range(0, args.models, 2) if (i % 10) / 10 > 0.45)
    out["search_models_s"] = median_of(args.repeat, lambda: checked(work.search_models, hits))
    out["register_ms"] = work.register_versions_s() * 1000 / args.models
    out["search_versions_s"] = median_of(
        args.repeat, lambda: checked(work.search_versions, args.models)
    )
    out["alias_ms"] = median_of(args.repeat, work.alias_ms)
    out["load_model_s"] = median_of(args.repeat, work.load_model_s)
    return out


def checked(search: Callable[[], tuple[float, int]], expected: int) -> float:
    elapsed, found = search()
    if found != expected:
        raise RuntimeError(f"search found {found} runs, expected {expected}")
    return elapsed


def rows(
    m: dict[str, float], c: dict[str, float], args: argparse.Namespace
) -> list[tuple[str, ...]]:
    points, runs, models = args.batches * BATCH, args.runs, args.models

    def row(label: str, key: str, unit: str, fmt: str, rate: bool = False) -> tuple[str, ...]:
        speedup = c[key] / m[key] if rate else m[key] / c[key]
        return (label, f"{m[key]:{fmt}} {unit}", f"{c[key]:{fmt}} {unit}", f"{speedup:,.1f}x")

    return [
        row(f"log_metric, synchronous ({args.calls} calls)", "log_metric_ms", "ms/call", ",.2f"),
        row(
            f"log_batch ingest ({args.batches} x {BATCH:,} pts)",
            "log_batch_pts_s",
            "pts/s",
            ",.0f",
            rate=True,
        ),
        row(
            "  same over raw REST, no client objects",
            "log_batch_raw_pts_s",
            "pts/s",
            ",.0f",
            rate=True,
        ),
        row(f"get_metric_history, {points:,} pts", "history_s", "s", ",.3f"),
        row("  same over raw REST, no client objects", "history_raw_s", "s", ",.3f"),
        row(
            f"create {runs:,} runs (create_run + log_batch, 8 threads)",
            "create_runs_s",
            "s",
            ",.2f",
        ),
        row(f"search_runs over {runs:,} runs, filtered", "search_filtered_s", "s", ",.3f"),
        row(f"search_runs over {runs:,} runs, all (pages of 1,000)", "search_all_s", "s", ",.3f"),
        row(
            f"logged model without a run: create + linked metric + finalize ({models:,})",
            "logged_model_ms",
            "ms/model",
            ",.1f",
        ),
        row(f"search_logged_models over {models:,}, filtered", "search_models_s", "s", ",.3f"),
        row(
            f"create_model_version from a logged model ({models:,})",
            "register_ms",
            "ms/version",
            ",.1f",
        ),
        row(f"search_model_versions, {models:,} versions", "search_versions_s", "s", ",.3f"),
        row("get_model_version_by_alias", "alias_ms", "ms/call", ",.2f"),
        row("pyfunc.load_model('models:/<name>@<alias>'), sklearn", "load_model_s", "s", ",.3f"),
    ]


def print_table(table: list[tuple[str, ...]], repeat: int, workers: int) -> None:
    header = (
        "measure (MLflow client, same calls)",
        f"mlflow server, SQLite, {workers} workers (median of {repeat})",
        f"collector (median of {repeat})",
        "ratio mlflow/collector (time)",
    )
    widths = [max(len(r[i]) for r in [header, *table]) for i in range(4)]
    print("| " + " | ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)) + " |")
    print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for r in table:
        print("| " + " | ".join(v.ljust(w) for v, w in zip(r, widths, strict=True)) + " |")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--calls", type=int, default=200, help="log_metric calls per round")
    parser.add_argument("--batches", type=int, default=100, help="log_batch requests of 1,000 pts")
    parser.add_argument("--runs", type=int, default=2000, help="runs searched")
    parser.add_argument("--models", type=int, default=200, help="logged models and versions")
    parser.add_argument("--mlflow-workers", type=int, default=4, help="mlflow server workers")
    parser.add_argument("--quick", action="store_true", help="small sizes, one round")
    args = parser.parse_args(argv)
    if args.quick:
        args.repeat, args.calls, args.batches, args.runs, args.models = 1, 50, 10, 200, 20
    return args


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    logging.getLogger("mlflow").setLevel(logging.WARNING)  # no "View run at" line per run
    os.environ["MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR"] = "false"
    with tempfile.TemporaryDirectory() as tmp:
        with run_mlflow_server(Path(tmp) / "mlflow", workers=args.mlflow_workers) as server:
            print(f"mlflow server at {server.url} ...", file=sys.stderr)
            on_mlflow = measure(server.url, args)
        with running_collector() as (collector, _):
            print(f"collector at {collector.endpoint} ...", file=sys.stderr)
            on_collector = measure(collector.endpoint, args)
    print_table(rows(on_mlflow, on_collector, args), args.repeat, args.mlflow_workers)


if __name__ == "__main__":
    main()
