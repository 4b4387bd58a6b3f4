"""Runs and experiments deleted through MLflow, as runlog's own query API, client and CLI see
them: left out of listings unless asked for, still readable one by one (``deleted``)."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest
from click.testing import CliRunner

from runlog import conventions as c
from runlog.cli import cli
from runlog.client import Client
from runlog.exceptions import InvalidArgumentError

mlflow = pytest.importorskip("mlflow")
from mlflow import MlflowClient  # noqa: E402


@pytest.fixture
def two_runs(ml: Any) -> tuple[str, str, str]:
    """An experiment (name) with a kept run and a run deleted through MLflow."""
    client, name = MlflowClient(), f"lifecycle-{uuid.uuid4().hex[:8]}"
    experiment_id = client.create_experiment(name)
    kept = client.create_run(experiment_id, run_name="kept", start_time=1000).info.run_id
    gone = client.create_run(experiment_id, run_name="gone", start_time=2000).info.run_id
    client.delete_run(gone)
    return name, kept, gone


def cli_json(endpoint: str, *args: str) -> Any:
    env = {c.ENV_ENDPOINT: endpoint, c.ENV_TOKEN: None}
    result = CliRunner().invoke(cli, [*args, "--json"], env=env, catch_exceptions=False)
    assert 0 == result.exit_code, result.output
    return json.loads(result.stdout)


def test_deleted_run_is_left_out_of_runlog_listings(
    two_runs: tuple[str, str, str], collector: Any
) -> None:
    name, kept, gone = two_runs
    client = Client(collector.endpoint)

    listed = client.search_runs([name])
    everything = client.search_runs([name], include_deleted=True)
    deleted_only = client.search_runs([name], filter="attributes.lifecycle_stage = 'deleted'")

    assert [(kept, False)] == [(r["run_id"], r["deleted"]) for r in listed]
    assert [(gone, True), (kept, False)] == [(r["run_id"], r["deleted"]) for r in everything]
    assert [gone] == [r["run_id"] for r in deleted_only]
    assert (True, "gone") == (client.get_run(gone)["deleted"], client.get_run(gone)["name"])
    assert 1 == client.get_experiment(name)["run_count"]


def test_cli_lists_deleted_runs_on_request(two_runs: tuple[str, str, str], collector: Any) -> None:
    name, kept, gone = two_runs

    assert [kept] == [r["run_id"] for r in cli_json(collector.endpoint, "runs", "-e", name)]
    assert [gone, kept] == [
        r["run_id"] for r in cli_json(collector.endpoint, "runs", "-e", name, "--include-deleted")
    ]


def test_cli_filter_with_or_still_leaves_deleted_runs_out(
    two_runs: tuple[str, str, str], collector: Any
) -> None:
    """`--filter "a or b"`: the not-deleted condition applies to the whole filter (appended
    to the text as `... and not deleted`, it would bind to b only)."""
    name, kept, gone = two_runs
    either = f"attributes.run_id = '{gone}' or attributes.run_id = '{kept}'"

    assert [kept] == [
        r["run_id"] for r in cli_json(collector.endpoint, "runs", "-e", name, "--filter", either)
    ]


def test_restored_run_is_listed_again(two_runs: tuple[str, str, str], collector: Any) -> None:
    name, kept, gone = two_runs

    MlflowClient().restore_run(gone)

    listed = Client(collector.endpoint).search_runs([name])
    assert [(gone, False), (kept, False)] == [(r["run_id"], r["deleted"]) for r in listed]


def test_deleted_experiment_and_its_runs_are_left_out(
    two_runs: tuple[str, str, str], collector: Any
) -> None:
    name, kept, gone = two_runs
    client, ml_client = Client(collector.endpoint), MlflowClient()
    experiment_id = ml_client.get_experiment_by_name(name).experiment_id

    ml_client.delete_experiment(experiment_id)

    assert name not in [e["name"] for e in client.list_experiments()]
    assert name not in [e["name"] for e in cli_json(collector.endpoint, "experiments")]
    assert [True] == [e["deleted"] for e in client.list_experiments(True) if e["name"] == name]
    assert True is client.get_experiment(name)["deleted"]
    assert [] == client.search_runs([name])  # as in MLflow, its runs are deleted with it
    assert "deleted" == ml_client.get_run(kept).info.lifecycle_stage

    ml_client.restore_experiment(experiment_id)

    assert False is client.get_experiment(name)["deleted"]
    # As in MLflow, restoring an experiment restores all its runs.
    assert [gone, kept] == [r["run_id"] for r in client.search_runs([name])]


def test_in_lists_in_runlog_search(two_runs: tuple[str, str, str], collector: Any) -> None:
    name, kept, gone = two_runs
    client = Client(collector.endpoint)

    found = client.search_runs(filter=f"attributes.run_id IN ('{kept}', '{gone}')")

    assert [kept] == [r["run_id"] for r in found]
    with pytest.raises(InvalidArgumentError, match="empty list after IN"):
        client.search_runs([name], filter="attributes.run_id IN ()")
