"""Migration 0005 in the store: the latest-metric rule, input order, logged-model metrics and
files, and the model registry (on SQLite and PostgreSQL)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from collectors.ops import (
    AppendModelMetrics,
    AppendPoints,
    CreateExperiment,
    CreateLoggedModel,
    CreateModelVersion,
    CreateRegisteredModel,
    DeleteRegisteredModel,
    EnsureRun,
    ModelMetric,
    RecordModelFile,
    SetModelVersionTag,
    SetRegisteredModelAlias,
    SetRegisteredModelTag,
    SetRunIO,
    UpdateModelVersion,
    UpdateRegisteredModel,
)
from collectors.store import SQLStore
from runlog import conventions as cv

AUTO = cv.INT64_MIN


def points(run_id: str, name: str, rows: list[tuple[int, int, float]]) -> AppendPoints:
    steps, times, values = zip(*rows, strict=True)
    return AppendPoints(
        run_id,
        name,
        cv.KIND_SCALAR,
        cv.DTYPE_FLOAT,
        np.array(steps, dtype=np.int64),
        np.array(times, dtype=np.int64),
        np.array(values, dtype=np.float64),
    )


# --- the latest point of a metric ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("batches", "latest"),
    [
        ([[(5, 10, 1.0)], [(2, 99, 9.0)]], (5, 10, 1.0)),  # a lower step logged later
        ([[(3, 20, 1.0), (3, 10, 2.0)]], (3, 20, 1.0)),  # same step: the newer time
        ([[(4, 10, 8.0)], [(4, 10, 2.0)]], (4, 10, 8.0)),  # same step and time: larger value
        ([[(4, 10, math.nan)], [(4, 10, -1.0)]], (4, 10, math.nan)),  # NaN ranks as 0 (MLflow)
        ([[(1, 1, 1.0), (7, 1, 2.0), (2, 1, 3.0)]], (7, 1, 2.0)),  # within one batch
    ],
)
def test_latest_point_is_the_highest_step(
    store: SQLStore, batches: list[list[tuple[int, int, float]]], latest: tuple[int, int, float]
) -> None:
    for rows in batches:  # one transaction each: the stored summary is compared too
        store.apply([[EnsureRun("r1", "exp", 1), points("r1", "m", rows)]])

    summary = store.list_metrics("r1")[0]
    found = (summary.last_step, summary.last_time_ns, summary.last)
    assert repr(latest) == repr(found)
    assert sum(len(rows) for rows in batches) == summary.count


def test_automatic_steps_follow_the_point_appended_last(store: SQLStore) -> None:
    store.apply([[EnsureRun("r1", "exp", 1), points("r1", "m", [(10, 1, 1.0), (2, 2, 2.0)])]])
    store.apply([[points("r1", "m", [(AUTO, 3, 3.0)])]])

    vector = store.read_metric("r1", "m")
    assert vector is not None
    assert [10, 2, 3] == vector.steps.tolist()  # previous step + 1, not the highest + 1
    assert (10, 1.0) == (store.list_metrics("r1")[0].last_step, store.list_metrics("r1")[0].last)


def test_run_inputs_come_back_in_logged_order(store: SQLStore) -> None:
    ops = [EnsureRun("r1", "exp", 1)]
    ops += [SetRunIO("r1", "input", key, f'"{key}"') for key in ("charlie", "alpha", "bravo")]
    store.apply([ops])
    store.apply([[SetRunIO("r1", "input", "alpha", '"alpha again"')]])  # keeps its place

    assert [("input", "charlie"), ("input", "alpha again"), ("input", "bravo")] == store.run_io(
        ["r1"]
    )["r1"]


# --- logged models ---------------------------------------------------------------------------


def test_logged_model_metrics_and_files(store: SQLStore) -> None:
    store.apply([[CreateExperiment("exp", 1), CreateLoggedModel("m-1", 1, "model", 5)]])
    metric = ModelMetric("acc", math.nan, 3, 7, "r1", "train", "d1")
    applied = store.apply(
        [
            [AppendModelMetrics("m-1", (ModelMetric("acc", 0.5, 1, 5), metric))],
            [RecordModelFile("m-1", "MLmodel", 12, "ab", 9)],
            [RecordModelFile("m-1", "MLmodel", 13, "cd", 10)],  # replaces the record
            [RecordModelFile("m-unknown", "x", 1, "ef", 1)],
        ]
    )

    linked = store.logged_model_metrics(["m-1"])["m-1"]
    assert [[], [], [], ["logged model 'm-unknown' does not exist"]] == [a.errors for a in applied]
    assert [("acc", 0.5, 1, 5, None), ("acc", "nan", 3, 7, "r1")] == [
        (m.name, m.value if m.value == m.value else "nan", m.step, m.time_ns, m.run_id)
        for m in linked
    ]
    assert ("train", "d1") == (linked[1].dataset_name, linked[1].dataset_digest)
    assert [("MLmodel", 13, "cd")] == [
        (f.path, f.size, f.sha256) for f in store.logged_model_files("m-1")
    ]


# --- the registry --------------------------------------------------------------------------------


def version(name: str, number: int, run_id: str = "r1") -> CreateModelVersion:
    source = f"runs:/{run_id}/model"
    return CreateModelVersion(name, number, number * 10, source, source, run_id=run_id)


def test_registry_versions_tags_aliases(store: SQLStore) -> None:
    tags = (("team", "a"),)
    store.apply([[CreateRegisteredModel("m", 1, "first", tags), version("m", 1), version("m", 2)]])
    applied = store.apply(
        [
            [version("m", 2)],  # the number is taken: the API retries with the next one
            [SetRegisteredModelAlias("m", "champion", 1), SetModelVersionTag("m", 2, "k", "v")],
            [UpdateModelVersion("m", 1, 30, stage="Production")],
            [UpdateModelVersion("m", 2, 40, stage="Production", archive_existing=True)],
            [SetRegisteredModelTag("m", "team", None)],
        ]
    )

    (model,) = store.registered_models(["m"])
    versions = store.model_versions(["m"])
    assert ["Model version 2 of 'm' already exists", [], [], [], []] == [
        a.errors[0] if a.errors else [] for a in applied
    ]
    assert ("first", {}, {"champion": 1}) == (model.description, model.tags, model.aliases)
    assert [(1, "Archived", ["champion"], {}), (2, "Production", [], {"k": "v"})] == [
        (v.version, v.stage, v.aliases, v.tags) for v in versions
    ]


def test_deleted_versions_keep_their_number_and_lose_their_aliases(store: SQLStore) -> None:
    store.apply([[CreateRegisteredModel("m", 1), version("m", 1), version("m", 2)]])
    store.apply([[SetRegisteredModelAlias("m", "prod", 2)]])
    store.apply([[UpdateModelVersion("m", 2, 50, deleted=True)]])
    applied = store.apply([[SetRegisteredModelAlias("m", "prod", 2)]])

    assert [1] == [v.version for v in store.model_versions(["m"])]
    assert [1, 2] == [v.version for v in store.model_versions(["m"], include_deleted=True)]
    assert {} == store.registered_models(["m"])[0].aliases
    assert ["Model Version (name=m, version=2) not found"] == applied[0].errors


def test_rename_and_delete_a_registered_model(store: SQLStore) -> None:
    store.apply([[CreateRegisteredModel("m", 1), version("m", 1)]])
    store.apply([[SetRegisteredModelAlias("m", "a", 1), SetModelVersionTag("m", 1, "k", "v")]])
    clash = store.apply(
        [[CreateRegisteredModel("other", 2), UpdateRegisteredModel("m", 3, "other")]]
    )
    store.apply([[UpdateRegisteredModel("m", 4, new_name="renamed", description="d")]])

    renamed = store.registered_models(["renamed"])
    versions = store.model_versions(["renamed"])
    store.apply([[DeleteRegisteredModel("renamed")]])

    assert ["Registered Model (name=other) already exists."] == clash[0].errors
    assert (["renamed"], "d") == ([m.name for m in renamed], renamed[0].description)
    assert [("renamed", 1, ["a"], {"k": "v"})] == [
        (v.name, v.version, v.aliases, v.tags) for v in versions
    ]
    assert ([], []) == (store.registered_models(["renamed"]), store.model_versions(["renamed"]))
