"""MLflow run search (filters, ordering, paging) and metric history (paging, bulk interval)."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import numpy as np
import pytest

import runlog

mlflow = pytest.importorskip("mlflow")
from mlflow import MlflowClient  # noqa: E402
from mlflow.entities import Metric, Param, RunTag  # noqa: E402
from mlflow.tracking._tracking_service.utils import _get_store  # noqa: E402


@pytest.fixture
def five_runs(ml: Any) -> tuple[str, list[str]]:
    """Runs r0..r4 with metric m = i, param parity, tag group; r4 is still running."""
    client = MlflowClient()
    experiment_id = client.create_experiment(f"search-{uuid.uuid4().hex[:8]}")
    ids = []
    for i in range(5):
        run_id = client.create_run(experiment_id, run_name=f"r{i}", start_time=1000 + i).info.run_id
        client.log_batch(
            run_id,
            metrics=[Metric("m", float(i), 0, 0)],
            params=[Param("parity", str(i % 2))],
            tags=[RunTag("group", "a" if i < 3 else "b")],
        )
        if i < 4:
            client.set_terminated(run_id)
        ids.append(run_id)
    return experiment_id, ids


@pytest.mark.parametrize(
    ("filter_string", "order_by", "expected"),
    [
        ("", ["metrics.m DESC"], [4, 3, 2, 1, 0]),
        ("metrics.m >= 2 and params.parity = '0'", ["metrics.m ASC"], [2, 4]),
        ("tags.group = 'b'", ["attributes.run_name DESC"], [4, 3]),
        ("attributes.status = 'RUNNING'", [], [4]),
        ("tags.mlflow.runName = 'r1'", [], [1]),
        ("attributes.run_name LIKE 'r%' and metrics.m < 2", ["start_time ASC"], [0, 1]),
        ("attributes.start_time > 1002", ["attributes.start_time DESC"], [4, 3]),
        ("params.`parity` != '0'", ["params.parity ASC", "metrics.m DESC"], [3, 1]),
        ("params.parity IN ('1', 'x')", ["metrics.m ASC"], [1, 3]),
        ("tags.group NOT IN ('a')", ["metrics.m ASC"], [3, 4]),
        ("attributes.status IN ('FINISHED', 'KILLED')", ["metrics.m DESC"], [3, 2, 1, 0]),
        ("tags.mlflow.runName in ('r0','r4') and metrics.m > 0", [], [4]),
    ],
)
def test_search_filters_and_orders(
    five_runs: tuple[str, list[str]], filter_string: str, order_by: list[str], expected: list[int]
) -> None:
    experiment_id, ids = five_runs

    runs = MlflowClient().search_runs([experiment_id], filter_string, order_by=order_by)

    assert [ids[i] for i in expected] == [r.info.run_id for r in runs]


def test_search_by_run_id_in_list(five_runs: tuple[str, list[str]]) -> None:
    """The MLflow web UI compares runs with ``attributes.run_id IN (...)``."""
    experiment_id, ids = five_runs
    wanted = f"attributes.run_id IN ('{ids[1]}', '{ids[3]}', '{'0' * 32}')"

    runs = MlflowClient().search_runs([experiment_id], wanted, order_by=["metrics.m"])
    others = MlflowClient().search_runs([experiment_id], wanted.replace("IN", "NOT IN"))

    assert [ids[1], ids[3]] == [r.info.run_id for r in runs]
    assert {ids[0], ids[2], ids[4]} == {r.info.run_id for r in others}


@pytest.mark.parametrize(
    ("filter_string", "problem"),
    [
        ("params.parity IN ()", "empty list after IN"),
        ("params.parity IN '0'", "missing '(' after IN"),
        ("params.parity NOT IN ('0'", "unterminated list after NOT IN"),
        ("params.parity IN ('0', 1)", "params.parity compared with a number"),
    ],
)
def test_malformed_in_list_is_invalid_parameter(
    five_runs: tuple[str, list[str]], filter_string: str, problem: str
) -> None:
    with pytest.raises(mlflow.exceptions.MlflowException) as caught:
        MlflowClient().search_runs([five_runs[0]], filter_string)

    assert "INVALID_PARAMETER_VALUE" == caught.value.error_code
    assert problem in caught.value.message


def test_search_pages(five_runs: tuple[str, list[str]]) -> None:
    experiment_id, ids = five_runs
    client, seen, token = MlflowClient(), [], None
    while True:
        page = client.search_runs(
            [experiment_id], order_by=["metrics.m ASC"], max_results=2, page_token=token
        )
        seen.append([r.info.run_id for r in page])
        token = page.token
        if not token:
            break

    assert [ids[0:2], ids[2:4], ids[4:5]] == seen


def test_search_runs_dataframe(five_runs: tuple[str, list[str]], ml: Any) -> None:
    experiment_id, ids = five_runs

    frame = ml.search_runs([experiment_id], filter_string="metrics.m < 2", order_by=["metrics.m"])

    assert ids[:2] == list(frame["run_id"])
    assert [0.0, 1.0] == list(frame["metrics.m"])


def test_bad_filter_is_invalid_parameter(five_runs: tuple[str, list[str]]) -> None:
    with pytest.raises(mlflow.exceptions.MlflowException) as caught:
        MlflowClient().search_runs([five_runs[0]], "metrics.m = 'text'")

    assert "INVALID_PARAMETER_VALUE" == caught.value.error_code


@pytest.mark.slow
def test_history_of_100k_points_pages(ml: Any, collector: Any, client_env: None) -> None:
    run = runlog.Experiment(runlog.Workspace(collector.endpoint), "mlflow-history").start_logging()
    values = np.random.default_rng(5).random(100_000)
    for step, value in enumerate(values.tolist()):
        run.log("loss", value, step=step)
    run.complete()
    assert run.flush(60)

    whole = MlflowClient().get_metric_history(run.id, "loss")
    store, pages, token = _get_store(), [], None
    while True:
        page = store.get_metric_history(run.id, "loss", max_results=25_000, page_token=token)
        pages.append(page)
        token = page.token
        if not token:
            break

    assert list(range(100_000)) == [m.step for m in whole]
    assert values.tolist() == [m.value for m in whole]
    assert [25_000] * 4 == [len(p) for p in pages]
    assert [m.value for m in whole] == [m.value for p in pages for m in p]


def test_bulk_interval_samples_steps(ml: Any, collector: Any) -> None:
    client = MlflowClient()
    run_ids = [client.create_run("0").info.run_id for _ in range(2)]
    for offset, run_id in enumerate(run_ids):
        metrics = [Metric("acc", float(s + offset), 0, s) for s in range(100)]
        client.log_batch(run_id, metrics=metrics)

    response = httpx.get(
        collector.endpoint + "/ajax-api/2.0/mlflow/metrics/get-history-bulk-interval",
        params={"run_ids": run_ids, "metric_key": "acc", "max_results": 10},
    )
    points = response.json()["metrics"]

    steps = sorted({p["step"] for p in points})
    assert 200 == response.status_code
    assert 10 == len(steps) and (0, 99) == (steps[0], steps[-1])
    assert [run_ids[0]] * 10 + [run_ids[1]] * 10 == [p["run_id"] for p in points]
    assert all(p["value"] == p["step"] + run_ids.index(p["run_id"]) for p in points)
