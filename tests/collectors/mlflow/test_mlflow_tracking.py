"""The unchanged `mlflow` client against a real collector: experiments, runs, params, tags."""

from __future__ import annotations

import math
import sys
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest

import runlog
from runlog.client import Client

mlflow = pytest.importorskip("mlflow")
from mlflow import MlflowClient  # noqa: E402
from mlflow.exceptions import MlflowException  # noqa: E402


def _name(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def test_issue_example_lands_in_runlog(ml: Any, collector: Any, tmp_path: Path) -> None:
    model = tmp_path / "model.pkl"
    model.write_bytes(b"\x80\x04pickled")
    experiment = _name("experiment_with_mlflow")
    ml.set_experiment(experiment)
    with ml.start_run() as run:
        ml.log_param("alpha", 0.03)
        ml.log_metric("mse", 3424.3, step=1)
        ml.log_artifact(str(model))

    stored = Client(collector.endpoint).get_run(run.info.run_id)
    files = Client(collector.endpoint).list_files(run.info.run_id)
    assert (experiment, run.info.run_name, "Completed") == (
        stored["experiment"],
        stored["name"],
        stored["status"],
    )
    assert {"alpha": "0.03"} == stored["params"]
    assert [("mse", 3424.3, 1)] == [
        (m["name"], m["last"], m["last_step"]) for m in stored["metrics"]
    ]
    assert [("model.pkl", len(b"\x80\x04pickled"))] == [(f["path"], f["size"]) for f in files]


def test_experiment_lifecycle(ml: Any) -> None:
    client = MlflowClient()
    name = _name("exp")
    experiment_id = client.create_experiment(name, tags={"team": "vision"})
    client.set_experiment_tag(experiment_id, "stage", "dev")
    client.rename_experiment(experiment_id, name + "-renamed")
    renamed = client.get_experiment_by_name(name + "-renamed")

    assert (experiment_id, {"team": "vision", "stage": "dev"}) == (
        renamed.experiment_id,
        renamed.tags,
    )
    assert f"mlflow-artifacts:/{experiment_id}" == renamed.artifact_location
    assert client.get_experiment_by_name(name) is None

    client.delete_experiment(experiment_id)
    active = {e.experiment_id for e in client.search_experiments()}
    deleted = {e.experiment_id for e in client.search_experiments(view_type=2)}
    assert experiment_id not in active and experiment_id in deleted
    assert "deleted" == client.get_experiment(experiment_id).lifecycle_stage
    client.restore_experiment(experiment_id)
    assert "active" == client.get_experiment(experiment_id).lifecycle_stage


def test_search_experiments_filters_and_orders(ml: Any) -> None:
    client = MlflowClient()
    prefix = _name("search-exp")
    ids = [client.create_experiment(f"{prefix}-{i}", tags={"i": str(i)}) for i in range(3)]

    found = client.search_experiments(
        filter_string=f"name LIKE '{prefix}%'", order_by=["name DESC"]
    )
    tagged = client.search_experiments(filter_string=f"name LIKE '{prefix}%' and tags.i = '1'")

    assert list(reversed(ids)) == [e.experiment_id for e in found]
    assert [ids[1]] == [e.experiment_id for e in tagged]


def test_default_experiment_is_zero(ml: Any, collector: Any) -> None:
    ml.set_experiment(experiment_id="0")
    with ml.start_run() as run:
        pass

    assert ("0", "Default") == (run.info.experiment_id, MlflowClient().get_experiment("0").name)
    assert "Default" == Client(collector.endpoint).get_run(run.info.run_id)["experiment"]


def test_duplicate_experiment_is_resource_already_exists(ml: Any) -> None:
    name = _name("dup")
    MlflowClient().create_experiment(name)

    with pytest.raises(MlflowException) as caught:
        MlflowClient().create_experiment(name)

    assert "RESOURCE_ALREADY_EXISTS" == caught.value.error_code


def test_run_update_tags_delete_and_restore(ml: Any, collector: Any) -> None:
    client = MlflowClient()
    experiment_id = client.create_experiment(_name("runs"))
    run = client.create_run(experiment_id, tags={"team": "a"}, run_name="first")
    run_id = run.info.run_id
    client.set_tag(run_id, "note", "x")
    client.delete_tag(run_id, "team")
    client.update_run(run_id, status="KILLED", name="renamed")

    got = client.get_run(run_id)
    stored = Client(collector.endpoint).get_run(run_id)
    assert ("renamed", "KILLED") == (got.info.run_name, got.info.status)
    assert ("renamed", "Canceled", {"note": "x"}) == (
        stored["name"],
        stored["status"],
        {k: v for k, v in stored["tags"].items() if not k.startswith("mlflow.")},
    )
    assert "renamed" == got.data.tags["mlflow.runName"]

    client.delete_run(run_id)
    assert [] == client.search_runs([experiment_id])
    assert "deleted" == client.get_run(run_id).info.lifecycle_stage
    assert [run_id] == [r.info.run_id for r in client.search_runs([experiment_id], run_view_type=2)]
    client.restore_run(run_id)
    assert [run_id] == [r.info.run_id for r in client.search_runs([experiment_id])]


def test_params_are_immutable(ml: Any) -> None:
    with ml.start_run():
        ml.log_param("lr", 0.1)
        ml.log_param("lr", 0.1)  # the same value again is fine
        with pytest.raises(MlflowException) as caught:
            ml.log_param("lr", 0.2)

    assert "INVALID_PARAMETER_VALUE" == caught.value.error_code
    assert "lr" in caught.value.message


def test_log_batch_limits(ml: Any, collector: Any) -> None:
    """The client splits big batches itself; the server still enforces MLflow's limits."""
    run_id = MlflowClient().create_run("0").info.run_id
    metric = {"key": "m", "value": 1.0, "timestamp": 0, "step": 0}
    bodies = [
        {"metrics": [metric] * 1001},
        {"params": [{"key": f"p{i}", "value": "1"} for i in range(101)]},
        {"metrics": [metric] * 950, "tags": [{"key": f"t{i}", "value": "1"} for i in range(51)]},
    ]

    answers = [
        httpx.post(
            collector.endpoint + "/api/2.0/mlflow/runs/log-batch", json={"run_id": run_id, **body}
        )
        for body in bodies
    ]

    assert [(400, "INVALID_PARAMETER_VALUE")] * 3 == [
        (a.status_code, a.json()["error_code"]) for a in answers
    ]
    assert {} == MlflowClient().get_run(run_id).data.params


def test_log_batch_and_special_values(ml: Any, collector: Any) -> None:
    """NaN is kept; +-inf is kept in the store (runlog's API answers it) and clamped to
    +-float max in MLflow's answers, as mlflow server's SQL store clamps it."""
    client = MlflowClient()
    run_id = client.create_run("0").info.run_id
    metrics = [
        mlflow.entities.Metric("loss", value, 1000 + step, step)
        for step, value in enumerate([1.5, math.nan, math.inf, -math.inf])
    ]
    client.log_batch(run_id, metrics=metrics, params=[mlflow.entities.Param("a", "1")])

    history = client.get_metric_history(run_id, "loss")
    stored = Client(collector.endpoint).get_metric(run_id, "loss")
    assert [(0, 1000), (1, 1001), (2, 1002), (3, 1003)] == [(m.step, m.timestamp) for m in history]
    assert 1.5 == history[0].value and math.isnan(history[1].value)
    assert [sys.float_info.max, -sys.float_info.max] == [m.value for m in history[2:]]
    assert -sys.float_info.max == client.get_run(run_id).data.metrics["loss"]
    assert [math.inf, -math.inf] == list(stored.values[2:])
    assert {"a": "1"} == client.get_run(run_id).data.params


def test_nested_runs_are_runlog_children(ml: Any, collector: Any) -> None:
    ml.set_experiment(_name("nested"))
    with ml.start_run() as parent, ml.start_run(nested=True) as child:
        ml.log_metric("x", 1.0)

    workspace = runlog.Workspace(collector.endpoint)
    children = list(workspace.get_run(parent.info.run_id).get_children())
    assert [child.info.run_id] == [c.id for c in children]
    assert (
        parent.info.run_id
        == MlflowClient().get_run(child.info.run_id).data.tags["mlflow.parentRunId"]
    )


def test_log_inputs_keeps_datasets(ml: Any) -> None:
    from mlflow.entities import Dataset, DatasetInput, InputTag

    client = MlflowClient()
    run_id = client.create_run("0").info.run_id
    dataset = Dataset("train", "abc123", "local", "/data/train.csv")
    client.log_inputs(run_id, [DatasetInput(dataset, [InputTag("mlflow.data.context", "train")])])

    inputs = client.get_run(run_id).inputs.dataset_inputs
    assert [("train", "abc123", "train")] == [
        (i.dataset.name, i.dataset.digest, i.tags[0].value) for i in inputs
    ]


def test_runlog_run_is_visible_to_mlflow(ml: Any, collector: Any, client_env: None) -> None:
    experiment = _name("from-runlog")
    run = runlog.Experiment(runlog.Workspace(collector.endpoint), experiment).start_logging()
    for step in range(5):
        run.log("loss", 1.0 / (step + 1), step=step)
    run.log_param("lr", "0.1")
    run.complete()
    run.flush()

    found = ml.search_runs(experiment_names=[experiment])
    history = MlflowClient().get_metric_history(run.id, "loss")
    assert [run.id] == list(found["run_id"])
    assert ("0.1", "FINISHED") == (found["params.lr"][0], found["status"][0])
    assert [(s, 1.0 / (s + 1)) for s in range(5)] == [(m.step, m.value) for m in history]


def test_unknown_run_and_experiment_errors(ml: Any) -> None:
    client = MlflowClient()
    codes = []
    for call in (lambda: client.get_run("0" * 32), lambda: client.get_experiment("999999")):
        with pytest.raises(MlflowException) as caught:
            call()
        codes.append(caught.value.error_code)

    assert ["RESOURCE_DOES_NOT_EXIST"] * 2 == codes


@pytest.mark.parametrize(
    ("method", "path", "body", "status", "code"),
    [
        ("GET", "/api/2.0/mlflow/runs/get?run_id=nope", None, 404, "RESOURCE_DOES_NOT_EXIST"),
        ("POST", "/api/2.0/mlflow/runs/log-metric", b"{not json", 400, "MALFORMED_REQUEST"),
        ("POST", "/api/2.0/mlflow/runs/log-metric", b"[1]", 400, "MALFORMED_REQUEST"),
        (
            "POST",
            "/api/2.0/mlflow/experiments/create",
            b'{"name": 5}',
            400,
            "INVALID_PARAMETER_VALUE",
        ),
        (
            "POST",
            "/api/2.0/mlflow/runs/log-batch",
            b'{"run_id": "r", "metrics": "many"}',
            400,
            "INVALID_PARAMETER_VALUE",
        ),
        (
            "POST",
            "/api/2.0/mlflow/runs/search",
            b'{"filter": "metrics.m <"}',
            400,
            "INVALID_PARAMETER_VALUE",
        ),
        ("GET", "/api/2.0/mlflow/no-such-endpoint", None, 404, "ENDPOINT_NOT_FOUND"),
    ],
)
def test_bad_requests_answer_mlflow_error_json(
    collector: Any, method: str, path: str, body: bytes | None, status: int, code: str
) -> None:
    response = httpx.request(method, collector.endpoint + path, content=body, timeout=10)

    assert (status, code) == (response.status_code, response.json()["error_code"])
    assert response.json()["message"]


def test_log_metric_with_wrong_types_is_400(ml: Any, collector: Any) -> None:
    run_id = MlflowClient().create_run("0").info.run_id
    body = {"run_id": run_id, "key": "m", "value": "high", "timestamp": 1}

    response = httpx.post(collector.endpoint + "/api/2.0/mlflow/runs/log-metric", json=body)

    assert (400, "INVALID_PARAMETER_VALUE") == (
        response.status_code,
        response.json()["error_code"],
    )


def test_user_id_is_run_info_not_a_tag(ml: Any, collector: Any) -> None:
    """create-run's user_id stays in the run info (as in MLflow), kept as a run property."""
    client = MlflowClient()
    experiment_id = client.create_experiment(_name("users"))
    plain = client.create_run(experiment_id, run_name="plain").info.run_id
    with ml.start_run(experiment_id=experiment_id, run_name="fluent"):
        pass  # the fluent API also sends the mlflow.user tag

    runs = {r.info.run_name: r for r in client.search_runs([experiment_id])}
    by_user = client.search_runs([experiment_id], "attributes.user_id = 'unknown'")

    assert ("unknown", {"mlflow.runName": "plain"}) == (
        runs["plain"].info.user_id,
        runs["plain"].data.tags,
    )
    assert runs["fluent"].info.user_id == runs["fluent"].data.tags["mlflow.user"]
    assert ["plain"] == [r.info.run_name for r in by_user]
    stored = Client(collector.endpoint).get_run(plain)
    assert ({"mlflow.user_id": "unknown"}, {}) == (stored["properties"], stored["tags"])
