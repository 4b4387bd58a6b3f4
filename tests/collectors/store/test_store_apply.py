"""Applying operations and reading back what the store kept (SQLite and PostgreSQL)."""

from __future__ import annotations

import math
from dataclasses import replace
from typing import Any

import numpy as np
import pytest
import sqlalchemy as sa

from collectors.ops import (
    AppendPoints,
    DeleteTag,
    EnsureRun,
    MarkBatch,
    RecordFile,
    SetParam,
    SetProperty,
    SetStatus,
    SetTag,
)
from collectors.store import SQLStore
from collectors.store.schema import metric_chunks
from runlog.conventions import INT64_MAX, INT64_MIN


def points(
    values: Any,
    dtype: str,
    *,
    run_id: str = "r1",
    name: str = "m",
    kind: str = "scalar",
    column: str = "",
    first_step: int = 0,
) -> AppendPoints:
    n = len(values)
    steps = np.arange(first_step, first_step + n, dtype=np.int64)
    times = steps * 1000 + 1
    if dtype != "str":
        values = np.asarray(values, dtype={"f8": np.float64, "i8": np.int64, "bool": bool}[dtype])
    return AppendPoints(run_id, name, kind, dtype, steps, times, values, column)


def chunk_rows(store: SQLStore) -> list[tuple[int, str]]:
    with store.engine.connect() as conn:
        query = sa.select(metric_chunks.c.n, metric_chunks.c.dtype).order_by(metric_chunks.c.seq)
        return [tuple(row) for row in conn.execute(query)]


RUN = EnsureRun("r1", "exp", time_ns=100)


def test_float_roundtrip_is_bit_exact(store: SQLStore) -> None:
    payload_nan = np.array([0x7FF8_0000_0000_1234], dtype=np.int64).view(np.float64)[0]
    values = np.array(
        [0.1, np.nan, payload_nan, np.inf, -np.inf, 5e-324, 2.2e-308, 1.7976931348623157e308, -0.0]
    )
    assert [a.errors for a in store.apply([[RUN, points(values, "f8")]])] == [[]]

    vector = store.read_metric("r1", "m")

    assert vector is not None
    assert np.dtype(np.float64) == vector.values.dtype
    assert values.view(np.int64).tolist() == np.asarray(vector.values).view(np.int64).tolist()
    assert list(range(9)) == vector.steps.tolist()
    assert [s * 1000 + 1 for s in range(9)] == vector.times.tolist()
    summary = store.list_metrics("r1")[0]
    assert math.copysign(1.0, summary.last) == -1.0  # -0.0 survives in the summary too
    assert (-np.inf, np.inf) == (summary.min, summary.max)


def test_nan_last_value_keeps_its_bits(store: SQLStore) -> None:
    payload_nan = np.array([0x7FF8_0000_0000_1234], dtype=np.int64).view(np.float64)
    store.apply([[RUN, points(payload_nan, "f8")]])

    last = store.list_metrics("r1")[0].last

    assert np.array([last]).view(np.int64)[0] == 0x7FF8_0000_0000_1234


def test_int64_extremes_roundtrip(store: SQLStore) -> None:
    values = [INT64_MIN, -1, 0, 1, INT64_MAX]
    store.apply([[RUN, points(values, "i8")]])

    vector = store.read_metric("r1", "m")
    summary = store.list_metrics("r1")[0]

    assert vector is not None
    assert np.dtype(np.int64) == vector.values.dtype
    assert values == vector.values.tolist()
    assert ("i8", INT64_MAX, int) == (summary.dtype, summary.last, type(summary.last))
    assert (float(INT64_MIN), float(INT64_MAX)) == (summary.min, summary.max)


def test_bool_roundtrip_counts_as_numeric(store: SQLStore) -> None:
    store.apply([[RUN, points([True, False, True], "bool")]])

    vector = store.read_metric("r1", "m")
    summary = store.list_metrics("r1")[0]

    assert vector is not None
    assert np.dtype(bool) == vector.values.dtype
    assert vector.values.tolist() == [True, False, True]
    assert (summary.dtype, summary.last, summary.min, summary.max) == ("bool", True, 0.0, 1.0)


def test_string_roundtrip(store: SQLStore) -> None:
    values = ["a", "ünïcødé ✓", "", 'with "quotes" and \\', "tab\tnew\nline"]
    store.apply([[RUN, points(values, "str")]])

    vector = store.read_metric("r1", "m")
    summary = store.list_metrics("r1")[0]

    assert vector is not None
    assert values == vector.values
    assert ("str", values[-1], None, None) == (
        summary.dtype,
        summary.last,
        summary.min,
        summary.max,
    )


def test_mixed_dtypes_keep_each_point_type(store: SQLStore) -> None:
    ops = [
        points([1.5], "f8"),
        points([7], "i8", first_step=1),
        points([True], "bool", first_step=2),
        points(["x"], "str", first_step=3),
    ]
    store.apply([[RUN, *ops]])

    vector = store.read_metric("r1", "m")
    summary = store.list_metrics("r1")[0]

    assert vector is not None
    assert (vector.dtype, vector.values) == ("mixed", [1.5, 7, True, "x"])
    assert [float, int, bool, str] == [type(v) for v in vector.values]
    assert (summary.dtype, summary.count, summary.last, summary.last_step) == ("mixed", 4, "x", 3)
    assert (summary.min, summary.max) == (1.0, 7.0)


def test_small_appends_across_transactions_merge_into_full_chunks(store: SQLStore) -> None:
    store.apply([[RUN]])
    for i in range(25):
        store.apply([[points(np.arange(1000.0) + 1000 * i, "f8", first_step=1000 * i)]])

    vector = store.read_metric("r1", "m")

    assert chunk_rows(store) == [(10_000, "f8"), (10_000, "f8"), (5_000, "f8")]
    assert vector is not None
    assert np.arange(25_000.0).tolist() == vector.values.tolist()
    assert np.arange(25_000).tolist() == vector.steps.tolist()


def test_many_appends_in_one_list_make_few_chunks(store: SQLStore) -> None:
    ops = [points([i], "i8", first_step=i) for i in range(12_345)]

    store.apply([[RUN, *ops]])

    assert chunk_rows(store) == [(10_000, "i8"), (2_345, "i8")]
    assert store.list_metrics("r1")[0].count == 12_345


def test_dtype_change_starts_a_new_chunk(store: SQLStore) -> None:
    store.apply([[RUN, points([1.0, 2.0], "f8")]])
    store.apply([[points([3], "i8", first_step=2)]])
    store.apply([[points([4], "i8", first_step=3), points([5.0], "f8", first_step=4)]])

    vector = store.read_metric("r1", "m")

    assert chunk_rows(store) == [(2, "f8"), (2, "i8"), (1, "f8")]
    assert vector is not None
    assert vector.values == [1.0, 2.0, 3, 4, 5.0]


def test_summary_ignores_nan_in_min_max(store: SQLStore) -> None:
    store.apply(
        [[RUN, points([np.nan, 3.0, -2.0, np.nan], "f8"), points([np.nan], "f8", name="n")]]
    )

    summaries = {s.name: s for s in store.list_metrics("r1")}

    m = summaries["m"]
    assert (m.count, m.min, m.max, m.last_step, m.last_time_ns) == (4, -2.0, 3.0, 3, 3001)
    assert math.isnan(m.last)
    assert (summaries["n"].min, summaries["n"].max) == (None, None)


def test_summary_accumulates_over_appends(store: SQLStore) -> None:
    store.apply([[RUN, points([5.0, 6.0], "f8")]])
    store.apply([[points([-1.0], "f8", first_step=10)]])

    summary = store.list_metrics("r1")[0]

    assert (
        summary.count,
        summary.last,
        summary.min,
        summary.max,
        summary.last_step,
    ) == (3, -1.0, -1.0, 6.0, 10)


# --- automatic steps (INT64_MIN: the column's last step + 1) --------------------------------------

AUTO = INT64_MIN


def stepped(steps: list[int], *, column: str = "", dtype: str = "f8") -> AppendPoints:
    """Points with the given steps (`AUTO` for automatic ones), values 0.0, 1.0, …."""
    op = points(np.arange(float(len(steps))), dtype, column=column)
    return replace(op, steps=np.array(steps, dtype=np.int64))


def stored_steps(store: SQLStore, column: str = "") -> list[int]:
    vector = store.read_metric("r1", "m", column)
    assert vector is not None
    return vector.steps.tolist()


def test_automatic_steps_start_at_zero_and_continue_across_transactions(store: SQLStore) -> None:
    store.apply([[RUN, stepped([AUTO, AUTO, AUTO])]])
    store.apply([[stepped([AUTO, AUTO])]])

    assert [0, 1, 2, 3, 4] == stored_steps(store)
    assert 4 == store.list_metrics("r1")[0].last_step


def test_an_explicit_step_resets_the_automatic_counter(store: SQLStore) -> None:
    store.apply([[RUN, stepped([AUTO, 10, AUTO, AUTO, 20, AUTO, 5, AUTO])]])

    assert [0, 10, 11, 12, 20, 21, 5, 6] == stored_steps(store)


def test_automatic_steps_continue_after_stored_explicit_steps(store: SQLStore) -> None:
    store.apply([[RUN, stepped([7, 8])]])
    store.apply([[stepped([AUTO])]])

    assert [7, 8, 9] == stored_steps(store)


def test_automatic_steps_continue_within_one_transaction(store: SQLStore) -> None:
    first = [RUN, stepped([AUTO, AUTO]), stepped([AUTO]), stepped([AUTO], dtype="i8")]

    store.apply([first, [stepped([AUTO])], [stepped([3]), stepped([AUTO])]])

    assert [0, 1, 2, 3, 4, 3, 4] == stored_steps(store)


def test_automatic_steps_count_per_column(store: SQLStore) -> None:
    store.apply([[RUN, stepped([AUTO, AUTO], column="a"), stepped([5], column="b")]])
    store.apply([[stepped([AUTO], column="b"), stepped([AUTO], column="a")]])

    assert ([0, 1, 2], [5, 6]) == (stored_steps(store, "a"), stored_steps(store, "b"))


def test_a_refused_append_does_not_advance_automatic_steps(store: SQLStore) -> None:
    bad = replace(stepped([AUTO, AUTO]), times=np.array([1], dtype=np.int64))

    applied = store.apply([[RUN, stepped([AUTO]), bad, stepped([AUTO])]])

    assert 1 == len(applied[0].errors)
    assert [0, 1] == stored_steps(store)


@pytest.mark.parametrize(("op_type", "field"), [(SetParam, "params"), (SetProperty, "properties")])
def test_immutable_values_refuse_a_change(store: SQLStore, op_type: Any, field: str) -> None:
    first = store.apply([[RUN, op_type("r1", "alpha", "0.5"), op_type("r1", "alpha", "0.5")]])
    second = store.apply([[op_type("r1", "alpha", "0.7"), SetTag("r1", "t", "kept")]])

    run = store.get_run("r1")

    assert first[0].errors == []
    assert len(second[0].errors) == 1
    assert "'alpha'" in second[0].errors[0] and "'0.5'" in second[0].errors[0]
    assert "immutable" in second[0].errors[0]
    assert run is not None
    assert getattr(run, field) == {"alpha": "0.5"}
    assert run.tags == {"t": "kept"}


def test_tags_are_mutable_and_deletable(store: SQLStore) -> None:
    store.apply([[RUN, SetTag("r1", "a", "1"), SetTag("r1", "a", "2"), SetTag("r1", "b", "x")]])
    store.apply([[DeleteTag("r1", "b"), DeleteTag("r1", "missing")]])

    run = store.get_run("r1")

    assert run is not None
    assert run.tags == {"a": "2"}


def test_kind_conflict_is_refused(store: SQLStore) -> None:
    store.apply([[RUN, points([1.0], "f8", name="loss")]])

    applied = store.apply([[points([2.0], "f8", name="loss", kind="row", column="a")]])

    assert len(applied[0].errors) == 1
    assert "scalar" in applied[0].errors[0] and "row" in applied[0].errors[0]
    assert [(s.name, s.column) for s in store.list_metrics("r1")] == [("loss", "")]


def test_duplicate_batch_is_skipped(store: SQLStore) -> None:
    first = store.apply([[MarkBatch("b-1"), RUN, SetTag("r1", "t", "first")]])
    again = store.apply(
        [
            [MarkBatch("b-1"), SetTag("r1", "t", "second")],
            [MarkBatch("b-2"), SetTag("r1", "u", "x")],
        ]
    )
    same_call = store.apply([[MarkBatch("b-3")], [MarkBatch("b-3"), SetTag("r1", "v", "x")]])

    run = store.get_run("r1")

    assert [a.duplicate for a in [*first, *again, *same_call]] == [False, True, False, False, True]
    assert run is not None
    assert run.tags == {"t": "first", "u": "x"}


@pytest.mark.parametrize(
    ("status", "error", "end_ns"),
    [
        ("Completed", None, 500),
        ("Failed", "boom", 500),
        ("Canceled", None, 500),
        ("Running", None, None),
    ],
)
def test_status_sets_end_time_for_terminal_states(
    store: SQLStore, status: str, error: str | None, end_ns: int | None
) -> None:
    store.apply([[RUN, SetStatus("r1", status, 500, error)]])

    run = store.get_run("r1")

    assert run is not None
    assert (status, end_ns, error, 100) == (run.status, run.end_ns, run.error, run.start_ns)


def test_unknown_status_is_refused(store: SQLStore) -> None:
    applied = store.apply([[RUN, SetStatus("r1", "Exploded", 5)]])

    run = store.get_run("r1")

    assert len(applied[0].errors) == 1 and "'Exploded'" in applied[0].errors[0]
    assert run is not None and run.status == "Running"


def test_ensure_run_fills_missing_name_and_parent_only(store: SQLStore) -> None:
    store.apply([[EnsureRun("r1", "exp", 100, name="first")]])
    store.apply([[EnsureRun("r1", "other", 200, parent_id="p", name="second")]])

    run = store.get_run("r1")

    assert run is not None
    assert (run.experiment, run.name, run.parent_id, run.start_ns) == ("exp", "first", "p", 100)


def test_unknown_run_is_created_in_default_experiment(store: SQLStore) -> None:
    store.apply([[SetTag("lonely", "a", "b")]])

    run = store.get_run("lonely")

    assert run is not None
    assert (run.experiment, run.status, run.tags) == ("Default", "Running", {"a": "b"})


@pytest.mark.parametrize(
    ("op", "message"),
    [
        (
            AppendPoints("r1", "m", "scalar", "f8", np.arange(2), np.arange(3), np.zeros(2)),
            "differ in length",
        ),
        (
            AppendPoints("r1", "m", "scalar", "f8", np.arange(1), np.arange(1), ["x"]),
            "declared 'f8'",
        ),
        (
            AppendPoints("r1", "m", "scalar", "c16", np.arange(1), np.arange(1), np.zeros(1)),
            "unknown dtype",
        ),
        (AppendPoints("r1", "m", "blob", "f8", np.arange(1), np.arange(1), np.zeros(1)), "kind"),
        (AppendPoints("r1", "", "scalar", "f8", np.arange(1), np.arange(1), np.zeros(1)), "empty"),
        (SetTag("bad id!", "a", "b"), "invalid run id"),
        (SetTag("r1", "k", "x" * 8193), "limit is 8192"),
    ],
)
def test_malformed_operations_are_refused(store: SQLStore, op: Any, message: str) -> None:
    applied = store.apply([[RUN, op]])

    assert len(applied[0].errors) == 1
    assert message in applied[0].errors[0]
    assert store.list_metrics("r1") == []


def test_database_error_rolls_back_every_list(store: SQLStore) -> None:
    with store.engine.begin() as conn:
        conn.execute(sa.text("ALTER TABLE properties RENAME TO properties_away"))
    try:
        with pytest.raises(sa.exc.DBAPIError):
            store.apply(
                [
                    [EnsureRun("r2", "exp", 1), points([1.0], "f8", run_id="r2")],
                    [SetProperty("r2", "k", "v")],
                ]
            )
    finally:
        with store.engine.begin() as conn:
            conn.execute(sa.text("ALTER TABLE properties_away RENAME TO properties"))

    assert None is store.get_run("r2")
    assert store.list_experiments() == []


def test_read_metric_of_unknown_column_is_none(store: SQLStore) -> None:
    store.apply([[RUN, points([1.0], "f8", kind="row", column="a")]])

    assert None is store.read_metric("r1", "m")
    assert None is store.read_metric("nobody", "m", "a")
    vector = store.read_metric("r1", "m", "a")
    assert vector is not None and (vector.kind, vector.values.tolist()) == ("row", [1.0])


def test_downsampled_read_keeps_ends_and_extremes(store: SQLStore) -> None:
    values = np.sin(np.arange(100_000) / 500.0)
    values[12_345], values[54_321] = 10.0, -10.0
    store.apply([[RUN, points(values, "f8")]])

    vector = store.read_metric_downsampled("r1", "m", max_points=200)

    assert vector is not None
    assert len(vector.values) <= 200
    assert (vector.steps[0], vector.steps[-1]) == (0, 99_999)
    assert 12_345 in vector.steps.tolist() and 54_321 in vector.steps.tolist()
    assert values[vector.steps].tolist() == vector.values.tolist()


def test_downsampling_strings_is_refused(store: SQLStore) -> None:
    store.apply([[RUN, points(["a", "b", "c"], "str")]])

    with pytest.raises(ValueError, match="numeric"):
        store.read_metric_downsampled("r1", "m", max_points=2)


def test_an_upload_record_creates_the_run_and_replaces_the_path(store: SQLStore) -> None:
    results = store.apply(
        [
            [RecordFile("f1", "files-exp", "outputs/a.txt", 3, "aa", 10)],
            [RecordFile("f1", "ignored", "outputs/a.txt", 4, "bb", 20)],
            [RecordFile("f1", "ignored", "b.txt", 1, "cc", 30)],
        ]
    )

    files = store.list_files("f1")
    run = store.get_run("f1")

    assert [[], [], []] == [applied.errors for applied in results]
    assert [("b.txt", 1, "cc", 30), ("outputs/a.txt", 4, "bb", 20)] == [
        (f.path, f.size, f.sha256, f.created_ns) for f in files
    ]
    assert run is not None and "files-exp" == run.experiment


def test_a_file_event_adds_a_missing_record_but_never_contradicts_one(store: SQLStore) -> None:
    claim = RecordFile("f2", "exp", "model.pkl", 5, "d" * 64, 10, replace=False)
    (added,) = store.apply([[claim]])
    (repeated,) = store.apply([[replace(claim, time_ns=20)]])
    (contradicting,) = store.apply([[replace(claim, size=6, sha256="e" * 64, time_ns=30)]])

    files = store.list_files("f2")

    assert ([], []) == (added.errors, repeated.errors)
    assert "is recorded with 5 bytes" in contradicting.errors[0]
    assert [("model.pkl", 5, "d" * 64, 10)] == [
        (f.path, f.size, f.sha256, f.created_ns) for f in files
    ]


def test_a_batch_id_replayed_with_the_same_content_is_a_duplicate(store: SQLStore) -> None:
    batch = [MarkBatch("b1", "digest-1"), EnsureRun("r1", "exp", 1), SetTag("r1", "k", "v")]

    first, again = store.apply([batch]), store.apply([batch])

    assert (False, True) == (first[0].duplicate, again[0].duplicate)
    assert (None, None) == (first[0].conflict, again[0].conflict)


def test_a_batch_id_reused_for_other_content_is_refused(store: SQLStore) -> None:
    store.apply([[MarkBatch("b1", "digest-1"), EnsureRun("r1", "exp", 1)]])

    (reused,) = store.apply([[MarkBatch("b1", "digest-2"), SetTag("r1", "k", "changed")]])

    assert reused.conflict is not None and "'b1' was already used" in reused.conflict
    assert not reused.duplicate
    assert {} == store.get_run("r1").tags  # type: ignore[union-attr]  # the run exists


def test_a_batch_kept_before_digests_existed_counts_as_a_replay(store: SQLStore) -> None:
    store.apply([[MarkBatch("old"), EnsureRun("r1", "exp", 1)]])

    (again,) = store.apply([[MarkBatch("old", "digest"), SetTag("r1", "k", "v")]])

    assert (True, None) == (again.duplicate, again.conflict)


def test_list_experiments_counts_runs(store: SQLStore) -> None:
    store.apply([[EnsureRun("a", "one", 10), EnsureRun("b", "one", 30), EnsureRun("c", "two", 20)]])

    experiments = store.list_experiments()
    one = store.get_experiment("one")

    assert [(e.name, e.run_count, e.last_run_ns) for e in experiments] == [
        ("one", 2, 30),
        ("two", 1, 20),
    ]
    assert one is not None and (one.run_count, one.created_ns) == (2, 10)
    assert None is store.get_experiment("nope")


def test_an_automatic_step_past_the_largest_int64_is_refused(store: SQLStore) -> None:
    applied = store.apply([[RUN, stepped([INT64_MAX - 1, AUTO]), stepped([AUTO])]])

    assert 1 == len(applied[0].errors)
    assert "automatic step" in applied[0].errors[0]
    assert [INT64_MAX - 1, INT64_MAX] == stored_steps(store)
