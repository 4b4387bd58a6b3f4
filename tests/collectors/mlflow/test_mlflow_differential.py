"""Differential check: the same MLflow client calls against ``mlflow server`` and the collector.

The sequence (tests/collectors/mlflow/mlflow_sequence.py) runs once against a real ``mlflow server``
(SQLite, proxied artifacts, started here on a loopback port) and once against a fresh
collector started here too (both in their own working directory); each step is then one
test comparing the two normalized outcomes. The sequence covers tracking, artifacts, MLflow
3 logged models (with and without a run), the model registry (register, versions, stages,
aliases, tags, loading ``models:/`` URIs) and the details MLflow's own tests check (path
checks, error wording). Where the collector differs on purpose (docs/mlflow.md) the test
asserts that exact difference; where it is wrong the step is a strict xfail naming the call,
what MLflow answers and what the collector answers.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from collector_process import run_collector
from mlflow_server import run_mlflow_server

pytest.importorskip("mlflow")
from mlflow_sequence import ABORTED, make_sources, mlflow_sequence, reset_mlflow, tree_digest

pytestmark = [
    pytest.mark.slow,
    # The first step runs both whole sequences (fixtures); mlflow server takes ~2 minutes.
    pytest.mark.timeout(900),
    # mlflow's own dataset digest code, on the pandas in this venv:
    pytest.mark.filterwarnings("ignore:Starting with pandas version 4.0"),
]


# --- fixtures --------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def quiet_mlflow_client() -> Iterator[None]:
    """No retries or long timeouts: a wrong answer should fail fast, not back off for minutes."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
        mp.setenv("MLFLOW_HTTP_REQUEST_TIMEOUT", "30")
        mp.setenv("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
        mp.delenv("MLFLOW_TRACKING_URI", raising=False)
        mp.delenv("MLFLOW_EXPERIMENT_NAME", raising=False)
        mp.delenv("MLFLOW_EXPERIMENT_ID", raising=False)
        yield
    reset_mlflow(None)  # later tests start from mlflow's defaults, not our last server


@pytest.fixture(scope="module")
def mlflow_results(
    tmp_path_factory: pytest.TempPathFactory, quiet_mlflow_client: None
) -> dict[str, Any]:
    root = tmp_path_factory.mktemp("mlflow-server")
    with run_mlflow_server(root / "server") as server:
        return mlflow_sequence(server.url, root / "work", server.root)


@pytest.fixture(scope="module")
def collector_results(
    tmp_path_factory: pytest.TempPathFactory, quiet_mlflow_client: None
) -> dict[str, Any]:
    """A fresh collector of its own: the sequence starts on an empty store."""
    root = tmp_path_factory.mktemp("mlflow-collector")
    (root / "cwd").mkdir()
    with run_collector(root / "data", cwd=root / "cwd") as collector:
        return mlflow_sequence(collector.endpoint, root / "work", root / "cwd")


# --- where the collector differs on purpose, and where it is wrong -------------------------
# Documented differences: step -> (what the collector answers, given MLflow's answer to this
# step and to all steps, why). Each is asserted exactly, never skipped.
DELIBERATE: dict[str, tuple[Callable[[Any, dict[str, Any]], Any], str]] = {
    # docs/mlflow.md (Search): the collector also takes IN / NOT IN on params and tags, which
    # mlflow 3.17 refuses (400) outside run_id; it answers like the equivalent != filter.
    "search_runs.tag_in": (
        lambda _, all_: all_["search_runs.tag_ne"],
        "tags.t IN ('odd', 'none') == tags.t != 'even' here",
    ),
    "search_runs.param_not_in": (
        lambda _, all_: all_["search_runs.param_ne"],
        "params.p NOT IN ('a') == params.p != 'a'",
    ),
    # mlflow server answers INVALID_STATE with HTTP 500 (its status for that code), which its
    # client reports as INTERNAL_ERROR; the collector answers no bad input with a 5xx.
    "rename_experiment.deleted_experiment": (
        lambda _, __: {"error_code": "INVALID_STATE"},
        "renaming a deleted experiment: INVALID_STATE with status 400, not 500",
    ),
    # mlflow server fails on an unknown logged-model attribute with a 500 (INTERNAL_ERROR).
    "models.search.bad_filter": (
        lambda _, __: {"error_code": "INVALID_PARAMETER_VALUE"},
        "a filter on an unknown attribute is a 400, not a 500",
    ),
    "models.search.run_attribute": (
        lambda _, __: {"error_code": "INVALID_PARAMETER_VALUE"},
        "a run attribute (parent_id) in a logged-model filter is a 400, not a 500",
    ),
}
# Collector bugs found by this check: step -> reason (strict xfail: fixing one fails loudly).
KNOWN_BUGS: dict[str, str] = {}

STEPS = [
    "fresh.search_experiments",
    "create_experiment",
    "get_experiment",
    "get_experiment_by_name",
    "set_experiment_tag",
    "get_experiment.tags",
    "delete_experiment_tag",
    "delete_experiment_tag.get",
    "delete_experiment_tag.missing",
    "set_experiment_tag.back",
    "set_experiment",
    "start_run",
    "log_param",
    "log_params",
    "log_param.same_value",
    "log_param.changed_value",
    "log_batch",
    "set_tag",
    "delete_tag",
    "delete_tag.missing",
    "child.get_run",
    "log_input",
    "log_input.get_run",
    "log_artifact",
    "log_artifact.path",
    "log_artifacts",
    "log_text",
    "log_dict",
    "list_artifacts.root",
    "list_artifacts.outputs",
    "list_artifacts.nested",
    "list_artifacts.missing",
    "download_artifacts.all",
    "download_artifacts.file",
    "download_artifacts.dir",
    "load_text",
    "end_run.get_run",
    "get_metric_history.loss",
    "get_metric_history.edge",
    "get_metric_history.unlogged",
    "update_run",
    "update_run.get_run",
    "set_terminated",
    "set_terminated.get_run",
    "resume_run",
    "resume_run.get_run",
    "search_runs.all",
    "search_runs.metric_lt",
    "search_runs.param_eq",
    "search_runs.tag_eq",
    "search_runs.tag_ne",
    "search_runs.run_name",
    "search_runs.run_name_like",
    "search_runs.status",
    "search_runs.and",
    "search_runs.order_metric_desc",
    "search_runs.order_metric_asc",
    "search_runs.order_name",
    "search_runs.paging",
    "search_runs.metric_eq",
    "search_runs.metric_range",
    "search_runs.param_ne",
    "search_runs.ilike",
    "search_runs.backticks",
    "search_runs.status_ne",
    "search_runs.run_id_in",
    "search_runs.tag_in",
    "search_runs.param_not_in",
    "search_runs.tag_is_null",
    "search_runs.order_two_keys",
    "search_runs.bad_filter",
    "search_runs.bad_order_by",
    "search_runs.parent",
    "search_runs.fluent",
    "delete_run",
    "delete_run.get_run",
    "set_tag.deleted_run",
    "log_metric.deleted_run",
    "update_run.deleted_run",
    "search_runs.deleted_only",
    "search_runs.active_only",
    "restore_run",
    "restore_run.get_run",
    "rename_experiment",
    "rename_experiment.get",
    "rename_experiment.old_name",
    "search_experiments",
    "search_experiments.tag",
    "search_experiments.paging",
    "search_experiments.experiment_id",
    "search_experiments.run_attribute",
    "delete_experiment",
    "delete_experiment.get",
    "search_experiments.active_only",
    "search_experiments.deleted_only",
    "search_experiments.all",
    "create_run.deleted_experiment",
    "set_experiment_tag.deleted_experiment",
    "rename_experiment.deleted_experiment",
    "restore_experiment",
    "restore_experiment.get",
    "get_run.unknown",
    "get_experiment.unknown",
    "get_experiment_by_name.unknown",
    "create_experiment.empty_name",
    "create_experiment.duplicate",
    "log_metric.unknown_run",
    "log_batch.bad_metric_name",
    "log_param.changed_value.client",
    "rest.get_run.unknown",
    "rest.log_parameter.changed",
    "rest.log_parameter.too_long",
    "rest.set_tag.too_long",
    "rest.log_batch.too_long",
    "rest.too_long.stored",
    "rest.create_experiment.no_name",
    "rest.log_batch.too_many_metrics",
    "rest.log_batch.too_many_params",
    "rest.log_metric.no_value",
    "rest.search_runs.bad_token",
    "rest.search_runs.too_many_results",
    "rest.get_history.paged",
    "rest.bulk_interval",
    "details.artifacts_list.parent",
    "details.artifacts_list.absolute",
    "details.artifacts_list.dot",
    "details.list_artifacts.dot",
    "details.download_artifacts.dot",
    "details.location.relative",
    "details.location.relative.run",
    "details.location.proxied",
    "details.location.proxied.run",
    "details.location.proxied.list",
    "details.location.proxied.download",
    "details.log_batch.no_timestamp",
    "details.log_metric.parent_dir",
    "details.log_metric.inner",
    "details.log_metric.dots",
    "details.log_metric.bad",
    "details.log_param.bad_key",
    "details.set_tag.bad_key",
    "details.log_param.changed",
    "details.create_experiment.empty",
    "details.bulk_interval.empty_key",
    "details.inputs.order",
    "details.latest_metric",
    "models.initialize",
    "models.external",
    "models.active.set",
    "models.active.get",
    "models.active.thread",
    "models.active.clear",
    "models.active.new",
    "models.finalize",
    "models.log_params",
    "models.set_tags",
    "models.delete_tag",
    "models.delete_tag.missing",
    "models.log_outputs",
    "models.get",
    "models.run_outputs",
    "models.run_history",
    "models.log_model.no_run",
    "models.last_logged_model",
    "models.artifacts",
    "models.download",
    "models.load",
    "models.search.all",
    "models.search.name",
    "models.search.model_id_in",
    "models.search.metric",
    "models.search.param",
    "models.search.tag_like",
    "models.search.order_metric",
    "models.search.order_name",
    "models.search.paged",
    "models.search.bad_filter",
    "models.search.run_attribute",
    "models.search.page_two",
    "models.delete",
    "models.get.deleted",
    "models.get.unknown",
    "registry.create",
    "registry.create.duplicate",
    "registry.create.bad_name",
    "registry.register.runs_uri",
    "registry.register.model_uri",
    "registry.create_version.run_files",
    "registry.create_version.wrong_run",
    "registry.logged_model_tag",
    "registry.get_version",
    "registry.update_version",
    "registry.stage.staging",
    "registry.stage.production",
    "registry.stage.archive_existing",
    "registry.stage.versions",
    "registry.stage.bad",
    "registry.latest_versions",
    "registry.version_tag.set",
    "registry.version_tag.delete",
    "registry.model_tag.set",
    "registry.model_tag.delete",
    "registry.alias.set",
    "registry.alias.reserved",
    "registry.alias.get",
    "registry.alias.latest",
    "registry.get",
    "registry.download_uri",
    "registry.load.version",
    "registry.load.alias",
    "registry.download.alias",
    "registry.alias.delete",
    "registry.alias.missing",
    "registry.search_versions.run",
    "registry.search_models",
    "registry.update_model",
    "registry.delete_version",
    "registry.delete_version.get",
    "registry.after_delete",
    "registry.rename",
    "registry.rename.versions",
    "registry.rename.old",
    "registry.delete",
    "registry.delete.search",
    "suite.log_metric.run_id_type",
    "suite.log_metric.key_type",
    "suite.log_metric.step_type",
    "suite.log_metric.timestamp_type",
    "suite.log_metric.run_id_none",
    "suite.log_metric.key_none",
    "suite.log_param.run_id_type",
    "suite.log_param.key_type",
    "suite.set_tag.value_type",
    "suite.set_tag.no_key",
    "suite.set_tag.run_uuid",
    "suite.create_experiment.name_type",
    "suite.create_experiment.location_type",
    "suite.create_experiment.tags_type",
    "suite.log_batch.no_step",
    "suite.log_batch.metrics_type",
    "suite.log_batch.params_type",
    "suite.log_batch.tags_type",
    "suite.interval.no_run_ids",
    "suite.interval.too_many",
    "suite.interval.max_results",
    "suite.interval.no_key",
    "suite.interval.end_before_start",
    "suite.interval.start_only",
    "suite.bulk.no_run_id",
    "suite.bulk.too_many",
    "suite.bulk.no_key",
    "suite.bulk.two_runs",
    "suite.bulk.max_results",
    "suite.history.bad_token",
    "suite.get_artifact.path",
    "suite.model_version_artifact.path",
    "suite.model_metric",
    "suite.model_inputs",
    "suite.search_pagination",
]


def differences(expected: Any, actual: Any, path: str = "") -> list[str]:
    """Every path at which two normalized results differ, as readable lines."""
    if isinstance(expected, dict) and isinstance(actual, dict):
        out = []
        for key in sorted(set(expected) | set(actual), key=str):
            if key not in actual:
                out.append(f"{path}.{key}: missing on collector (mlflow: {expected[key]!r})")
            elif key not in expected:
                out.append(f"{path}.{key}: only on collector ({actual[key]!r})")
            else:
                out += differences(expected[key], actual[key], f"{path}.{key}")
        return out
    return (
        []
        if expected == actual
        else [f"{path or '.'}: mlflow {expected!r} != collector {actual!r}"]
    )


def step_param(step: str) -> Any:
    marks = [pytest.mark.xfail(strict=True, reason=KNOWN_BUGS[step])] if step in KNOWN_BUGS else []
    return pytest.param(step, marks=marks, id=step)


def test_every_step_ran_on_mlflow_server(mlflow_results: dict[str, Any]) -> None:
    """The sequence itself is sound: every step recorded, none crashed on MLflow's own server."""
    assert [] == mlflow_results[ABORTED]
    assert sorted([*STEPS, ABORTED]) == sorted(mlflow_results)
    crashed = {k: v for k, v in mlflow_results.items() if isinstance(v, dict) and "exception" in v}
    assert {} == crashed


def test_mlflow_server_returns_uploaded_bytes(
    mlflow_results: dict[str, Any], tmp_path: Path
) -> None:
    """Baseline sanity: downloads from mlflow server equal the files uploaded."""
    sources = tree_digest(make_sources(tmp_path / "sources"))
    outputs = {
        k.removeprefix("outputs/"): v for k, v in sources.items() if k.startswith("outputs/")
    }
    assert outputs == mlflow_results["download_artifacts.dir"]
    assert sources["model.pkl"] == mlflow_results["download_artifacts.file"]["model.pkl"]


@pytest.mark.parametrize("step", [step_param(s) for s in STEPS])
def test_collector_answers_like_mlflow_server(
    step: str, mlflow_results: dict[str, Any], collector_results: dict[str, Any]
) -> None:
    expected, actual = (
        mlflow_results[step],
        collector_results.get(step, f"<step not reached: {collector_results[ABORTED]}>"),
    )
    if step in DELIBERATE:
        expected_difference, why = DELIBERATE[step]
        assert expected != actual, f"{step} is listed as a deliberate difference but is equal"
        expected = expected_difference(expected, mlflow_results)
        assert expected == actual, f"{why}:\n" + "\n".join(differences(expected, actual, step))
        return
    assert expected == actual, "\n".join(differences(expected, actual, step))
