"""`runlog import --from-mlflow URI` against a real `mlflow server` filled by the MLflow
client: experiments, runs (deleted and child runs too), params, tags, every point of every
metric history, status and artifacts arrive in runlog's store."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from mlflow_server import run_mlflow_server

from collectors.store import LocalFileStore, open_store
from runlog.cli import cli

pytest.importorskip("mlflow")
pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]


@pytest.fixture(scope="module")
def filled_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, dict[str, Any]]]:
    """A real MLflow server with two experiments' runs; yields its URL and what was logged."""
    from mlflow.tracking import MlflowClient

    root = tmp_path_factory.mktemp("mlflow")
    with run_mlflow_server(root / "server") as server:
        client = MlflowClient(server.url)
        exp = client.create_experiment("mlflow-team")
        client.create_experiment("other")
        parent = client.create_run(exp, run_name="sweep", tags={"team": "vision"})
        pid = parent.info.run_id
        client.log_param(pid, "alpha", "0.5")
        for step in range(120):
            client.log_metric(
                pid, "loss", 1.0 / (step + 1), timestamp=1_700_000_000_000 + step, step=step
            )
        artifact = root / "model.txt"
        artifact.write_text("coefficients: 1 2 3\n")
        client.log_artifact(pid, str(artifact), "model")
        client.set_terminated(pid, "FINISHED", end_time=1_700_000_001_000)
        child = client.create_run(exp, run_name="fold-1", tags={"mlflow.parentRunId": pid})
        client.log_metric(child.info.run_id, "acc", 0.9, step=3)
        client.set_terminated(child.info.run_id, "FAILED")
        gone = client.create_run(exp, run_name="gone")
        client.delete_run(gone.info.run_id)
        ids = {"parent": pid, "child": child.info.run_id, "gone": gone.info.run_id}
        yield server.url, ids


def test_import_from_mlflow_copies_runs_histories_and_artifacts(
    filled_server: tuple[str, dict[str, Any]], tmp_path: Path
) -> None:
    url, ids = filled_server
    store_url = f"sqlite:///{tmp_path / 'runlog.db'}"

    result = CliRunner().invoke(
        cli,
        [
            "import",
            "--from-mlflow",
            url,
            "-e",
            "mlflow-team",
            "--store",
            store_url,
            "--files-dir",
            str(tmp_path / "files"),
        ],
    )

    assert 0 == result.exit_code, result.output
    assert "imported 3 run(s), 121 metric point(s), 1 file(s)" in result.output
    store = open_store(store_url)
    try:
        parent, child, gone = (store.get_run(ids[k]) for k in ("parent", "child", "gone"))
        loss = store.read_metric(ids["parent"], "loss")
        files = store.list_files(ids["parent"])
        experiments = [e.name for e in store.list_experiments()]
    finally:
        store.close()
    assert parent is not None and child is not None and gone is not None
    assert ["mlflow-team"] == experiments
    assert ("sweep", "Completed", "0.5", "vision") == (
        parent.name,
        parent.status,
        parent.params["alpha"],
        parent.tags["team"],
    )
    assert 1_700_000_001_000 * 1_000_000 == parent.end_ns
    assert loss is not None
    assert list(range(120)) == loss.steps.tolist()
    assert [1.0 / (s + 1) for s in range(120)] == loss.values.tolist()
    assert [(1_700_000_000_000 + s) * 1_000_000 for s in range(120)] == loss.times.tolist()
    assert (ids["parent"], "Failed") == (child.parent_id, child.status)
    assert gone.deleted
    assert ["model/model.txt"] == [f.path for f in files]
    stored = LocalFileStore(tmp_path / "files").open_read(ids["parent"], "model/model.txt")
    with stored:
        assert b"coefficients: 1 2 3\n" == stored.read()
