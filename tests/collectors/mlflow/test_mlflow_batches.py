"""log-batch is all or nothing, as in MLflow; runlog metrics without an MLflow form answer
an empty history."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest

import runlog
from runlog.client import Client

mlflow = pytest.importorskip("mlflow")
from mlflow import MlflowClient  # noqa: E402
from mlflow.entities import Metric, Param, RunTag  # noqa: E402
from mlflow.exceptions import MlflowException  # noqa: E402


def stored(collector: Any, run_id: str) -> tuple[dict[str, str], list[str], list[str]]:
    """The run's params, metric names and tag keys (system tags left out), as runlog has them."""
    run = Client(collector.endpoint).get_run(run_id)
    tags = [k for k in run["tags"] if not k.startswith("mlflow.")]
    return run["params"], [m["name"] for m in run["metrics"]], tags


def test_param_conflicting_with_stored_value_stores_nothing(ml: Any, collector: Any) -> None:
    client = MlflowClient()
    run_id = client.create_run("0").info.run_id
    client.log_param(run_id, "lr", "0.1")

    with pytest.raises(MlflowException) as caught:
        client.log_batch(
            run_id,
            metrics=[Metric("loss", 0.5, 0, 0)],
            params=[Param("batch", "32"), Param("lr", "0.2")],
            tags=[RunTag("note", "x")],
        )

    assert "INVALID_PARAMETER_VALUE" == caught.value.error_code
    assert "Changing param values is not allowed" in caught.value.message
    assert "'old_value': '0.1', 'new_value': '0.2'" in caught.value.message
    assert ({"lr": "0.1"}, [], []) == stored(collector, run_id)


def test_same_stored_value_again_is_accepted(ml: Any, collector: Any) -> None:
    client = MlflowClient()
    run_id = client.create_run("0").info.run_id
    client.log_param(run_id, "lr", "0.1")

    client.log_batch(run_id, metrics=[Metric("loss", 0.5, 0, 0)], params=[Param("lr", "0.1")])

    assert ({"lr": "0.1"}, ["loss"], []) == stored(collector, run_id)


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        (
            {"params": [{"key": "a", "value": "1"}, {"key": "a", "value": "2"}]},
            "Duplicate parameter keys",
        ),
        ({"tags": [{"key": "t", "value": 8001}]}, "for parameter 'tags[1].value'"),
        ({"metrics": [{"key": "m", "value": "high", "timestamp": 0}]}, "value"),
        ({"tags": [{"key": "  ", "value": "x"}]}, "must not be blank"),
    ],
)
def test_any_bad_entry_stores_nothing(
    ml: Any, collector: Any, body: dict[str, Any], problem: str
) -> None:
    run_id = MlflowClient().create_run("0").info.run_id
    good = {
        "metrics": [{"key": "loss", "value": 1.0, "timestamp": 0, "step": 0}],
        "params": [{"key": "p", "value": "1"}],
        "tags": [{"key": "ok", "value": "1"}],
    }
    merged = {k: good[k] + body.get(k, []) for k in good}

    answer = httpx.post(
        collector.endpoint + "/api/2.0/mlflow/runs/log-batch", json={"run_id": run_id, **merged}
    )

    assert (400, "INVALID_PARAMETER_VALUE") == (answer.status_code, answer.json()["error_code"])
    assert problem in answer.json()["message"]
    assert ({}, [], []) == stored(collector, run_id)


@pytest.fixture
def runlog_run(collector: Any, client_env: None) -> str:
    """A run logged by runlog's API with a row, a table and a string metric, and a number."""
    run = runlog.Experiment(runlog.Workspace(collector.endpoint), "mlflow-kinds").start_logging()
    run.log_row("row", a=1.0, b=2.0)
    run.log_table("table", {"x": [1, 2], "y": [3.0, 4.0]})
    run.log("note", "text")
    run.log("loss", 0.5)
    run.complete()
    assert run.flush(30)
    return run.id


def test_metric_of_another_kind_in_a_batch_stores_nothing(ml: Any, runlog_run: str) -> None:
    client = MlflowClient()

    with pytest.raises(MlflowException) as caught:
        client.log_batch(
            runlog_run, metrics=[Metric("row", 1.0, 0, 0)], params=[Param("after", "1")]
        )

    assert "INVALID_PARAMETER_VALUE" == caught.value.error_code
    assert "logged by runlog as a row metric" in caught.value.message
    assert "after" not in client.get_run(runlog_run).data.params


def test_history_of_metrics_without_mlflow_form_is_empty(
    ml: Any, collector: Any, runlog_run: str
) -> None:
    client = MlflowClient()
    bulk = httpx.get(
        collector.endpoint + "/ajax-api/2.0/mlflow/metrics/get-history-bulk-interval",
        params={"run_ids": [runlog_run], "metric_key": "note"},
    )

    histories = {key: client.get_metric_history(runlog_run, key) for key in ("row", "table")}
    histories["note"] = client.get_metric_history(runlog_run, "note")

    assert {"row": [], "table": [], "note": []} == histories
    assert (200, []) == (bulk.status_code, bulk.json()["metrics"])
    assert [0.5] == [m.value for m in client.get_metric_history(runlog_run, "loss")]
    assert {"loss": 0.5} == client.get_run(runlog_run).data.metrics


def test_long_values_are_truncated_like_mlflow(ml: Any, collector: Any) -> None:
    """mlflow 3.x keeps the first 6000 / 8000 characters of a long param / tag and answers 200
    (the differential check covers log-parameter, set-tag and log-batch; this the rest)."""
    client = MlflowClient()
    run_id = client.create_run("0", tags={"at_create": "c" * 8500}).info.run_id
    client.log_param(run_id, "p", "p" * 7000)
    client.log_param(run_id, "p", "p" * 6500)  # the same value once truncated: accepted
    client.set_tag(run_id, "t", "t" * 9000)

    run = Client(collector.endpoint).get_run(run_id)
    assert {"p": "p" * 6000} == run["params"]
    assert ("c" * 8000, "t" * 8000) == (run["tags"]["at_create"], run["tags"]["t"])


def test_experiment_tag_limit_is_mlflows_20000(ml: Any) -> None:
    """Experiment tags are not truncated: up to 20,000 characters, longer is a 400."""
    client = MlflowClient()
    experiment_id = client.create_experiment(f"long-tags-{uuid.uuid4().hex[:8]}")
    client.set_experiment_tag(experiment_id, "ok", "x" * 20_000)

    with pytest.raises(MlflowException) as caught:
        client.set_experiment_tag(experiment_id, "long", "x" * 20_001)

    assert "INVALID_PARAMETER_VALUE" == caught.value.error_code
    assert {"ok": 20_000} == {
        k: len(v) for k, v in client.get_experiment(experiment_id).tags.items()
    }


def test_metrics_linked_to_a_logged_model_do_not_repeat_run_points(ml: Any, collector: Any) -> None:
    """MLflow 3 re-sends a run's metrics with a model_id when it logs a model; the run's
    history keeps one point each, as mlflow server's metrics primary key does."""
    client = MlflowClient()
    run_id = client.create_run("0").info.run_id
    model_id = client.create_logged_model("0", source_run_id=run_id).model_id
    client.log_batch(run_id, metrics=[Metric("loss", 0.5, 1000, 0), Metric("loss", 0.25, 2000, 1)])
    api = f"{collector.endpoint}/api/2.0/mlflow"
    echo = {"key": "loss", "value": 0.25, "timestamp": 2000, "step": 1, "model_id": model_id}
    new = {"key": "loss", "value": 0.125, "timestamp": 3000, "step": 2, "model_id": model_id}

    batch = {"run_id": run_id, "metrics": [echo, new]}
    httpx.post(f"{api}/runs/log-batch", json=batch).raise_for_status()
    httpx.post(f"{api}/runs/log-metric", json={"run_id": run_id, **echo}).raise_for_status()

    history = client.get_metric_history(run_id, "loss")
    linked = client.get_logged_model(model_id).metrics
    assert [(0, 0.5), (1, 0.25), (2, 0.125)] == [(m.step, m.value) for m in history]
    # The model keeps each link it was sent (the echo twice: two requests, as mlflow server).
    assert [(1, 0.25), (2, 0.125), (1, 0.25)] == [(m.step, m.value) for m in linked]
