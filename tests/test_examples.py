"""Each script in examples/ runs against a real collector and leaves the runs it promises."""

from __future__ import annotations

import math
import os
import subprocess
import sys
import time
import zipfile
from pathlib import Path
from typing import Any

import pytest

from runlog.client import Client

REPO = Path(__file__).resolve().parent.parent
EXAMPLES = REPO / "examples"


def run_example(script: str, endpoint: str, cwd: Path) -> str:
    """Run one example as its own process; return its stdout, failing on a non-zero exit."""
    env = {
        **os.environ,
        "RUNLOG_ENDPOINT": endpoint,
        "RUNLOG_SPOOL_DIR": str(cwd / "spool"),
        "MPLBACKEND": "Agg",
        "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])),
    }
    env.pop("RUNLOG_TOKEN", None)
    done = subprocess.run(
        [sys.executable, str(EXAMPLES / script)],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=90,
        check=False,
    )
    assert 0 == done.returncode, f"{script} failed:\n{done.stdout}\n{done.stderr}"
    return done.stdout


def new_runs(client: Client, experiment: str, since_ns: int) -> list[dict[str, Any]]:
    """Runs of *experiment* started after *since_ns* (the collector may be shared)."""
    return [r for r in client.search_runs(experiment) if r["start_ns"] >= since_ns]


@pytest.fixture
def client(collector: Any) -> Any:
    with Client(collector.endpoint) as client:
        yield client


def test_ridge_interactive(collector: Any, client: Client, tmp_path: Path) -> None:
    pytest.importorskip("sklearn")
    since = time.time_ns()
    out = run_example("ridge_interactive.py", collector.endpoint, tmp_path)
    [run] = new_runs(client, "train-within-notebook", since)
    assert run["run_id"] in out
    assert "Completed" == run["status"]
    metrics = client.get_metrics(run["run_id"])
    assert 0.03 == metrics["alpha"]
    assert 2000 < metrics["mse"] < 5000
    assert ["outputs/model.pkl"] == [f["path"] for f in client.list_files(run["run_id"])]
    model_file = client.download_file(run["run_id"], "outputs/model.pkl", tmp_path / "got.pkl")
    assert (tmp_path / "outputs" / "model.pkl").read_bytes() == Path(model_file).read_bytes()


def test_sweep_makes_one_run_per_alpha(collector: Any, client: Client, tmp_path: Path) -> None:
    pytest.importorskip("sklearn")
    since = time.time_ns()
    out = run_example("sweep/train_sweep.py", collector.endpoint, tmp_path)
    runs = new_runs(client, "diabetes-sweep", since)
    alphas = sorted(float(r["params"]["alpha"]) for r in runs)
    assert [round(0.05 * i, 2) for i in range(20)] == [round(a, 10) for a in alphas]
    assert {"Completed"} == {r["status"] for r in runs}
    for run in runs:
        summaries = {m["name"]: m["last"] for m in run["metrics"]}
        assert float(run["params"]["alpha"]) == summaries["alpha"]
        assert summaries["mse"] > 0
        assert ["outputs/model.pkl"] == [f["path"] for f in client.list_files(run["run_id"])]
    [best] = client.search_runs(
        "diabetes-sweep",
        filter=f"attributes.start_time >= {since}",
        order_by="metrics.mse ASC",
        max_results=1,
    )
    assert best["run_id"] in out.splitlines()[-1]


def test_logging_tour_shapes(collector: Any, client: Client, tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    since = time.time_ns()
    out = run_example("logging_tour.py", collector.endpoint, tmp_path)
    [run] = new_runs(client, "logging-api-tour", since)
    assert run["run_id"] in out
    metrics = client.get_metrics(run["run_id"])
    assert [0, 1, 1, 2, 3, 5, 8, 13, 21, 34] == metrics["Fibonacci numbers"]
    assert [1 / (1 + math.exp(-i)) for i in range(-10, 10)] == metrics["sigmoid"]
    assert {
        "angle": [i / 2 for i in range(10)],
        "cos": [math.cos(i / 2) for i in range(10)],
    } == metrics["Cosine Wave"]
    assert ["angle", "sine"] == list(metrics["Sine Wave"])
    assert 20 == len(metrics["Sine Wave"]["sine"])
    image = metrics["Sine plot"]
    assert isinstance(image, str)
    assert image in [f["path"] for f in client.list_files(run["run_id"])]
    png = client.download_file(run["run_id"], image, tmp_path / "plot.png")
    assert Path(png).read_bytes().startswith(b"\x89PNG")
    assert {"tour": "yes"} == run["tags"]


def test_mlflow_client(collector: Any, client: Client, tmp_path: Path) -> None:
    pytest.importorskip("mlflow")
    pytest.importorskip("sklearn")
    since = time.time_ns()
    out = run_example("mlflow_client.py", collector.endpoint, tmp_path)
    [run] = new_runs(client, "experiment_with_mlflow", since)
    assert f"run {run['run_id']}: mse" in out
    assert {"alpha": "0.03"} == run["params"]
    [mse] = [m for m in run["metrics"] if m["name"] == "mse"]
    printed = float(out.split(": mse ")[1].split()[0])
    assert (1, round(printed, 1)) == (mse["last_step"], round(mse["last"], 1))
    stored = client.download_file(run["run_id"], "model.pkl", tmp_path / "downloaded.pkl")
    assert (tmp_path / "model.pkl").read_bytes() == Path(stored).read_bytes()


def test_traced_training_gives_the_run_a_timeline(
    collector: Any, client: Client, tmp_path: Path
) -> None:
    pytest.importorskip("opentelemetry.sdk")
    since = time.time_ns()
    out = run_example("traced_training.py", collector.endpoint, tmp_path)
    [run] = new_runs(client, "traced-training", since)
    assert f"run {run['run_id']}: 4 epochs traced" in out
    names = [span["name"] for span in client.get_spans(run["run_id"])]
    assert (1, 4, 4, 4) == tuple(
        names.count(n) for n in ("train", "epoch", "load_data", "evaluate")
    )
    assert 1000 == len(client.get_metric(run["run_id"], "loss"))
    assert "learning rate was never decayed" in client.get_logs(run["run_id"])[-1]["message"]


def test_submit_example_runs_the_seeds_sweep_submitted(
    collector: Any, client: Client, tmp_path: Path
) -> None:
    """The v1 train-on-local script, changed only in its import, runs as a submitted run."""
    pytest.importorskip("sklearn")
    train = (EXAMPLES / "submit" / "train.py").read_text()
    code = [line for line in train.splitlines() if not line.startswith(('"', "``"))]
    assert ["from runlog import Run"] == [line for line in code if "runlog" in line]
    out = run_example("submit/submit.py", collector.endpoint, tmp_path)
    run_id = out.split()[1].rstrip(":")
    printed = [line for line in out.splitlines() if line.startswith(("alpha", "best"))]
    assert 21 == len(printed)
    lines = client.get_logs(run_id, limit=10000)
    assert printed == [line["message"] for line in lines if line.get("stream") == "stdout"]
    history = client.get_statuses(run_id)
    assert sorted(h["time_ns"] for h in history) == [h["time_ns"] for h in history]
    assert ["NotStarted", "Queued", "Preparing", "Running", "Finalizing", "Completed"] == [
        h["status"] for h in history
    ]
    metrics = client.get_metrics(run_id)
    assert [round(0.05 * i, 2) for i in range(20)] == [round(a, 2) for a in metrics["alpha"]]
    files = [f["path"] for f in client.list_files(run_id)]
    assert [f"outputs/ridge_{0.05 * i:.2f}.pkl" for i in range(20)] == [
        f for f in files if f.startswith("outputs/")
    ]
    assert {"best_model.pkl", "snapshot.zip"} <= set(files)
    snapshot = client.download_file(run_id, "snapshot.zip", tmp_path / "s.zip")
    with zipfile.ZipFile(snapshot) as archive:
        assert [".runlogignore", "mylib.py", "train.py"] == sorted(archive.namelist())
        assert train == archive.read("train.py").decode()
