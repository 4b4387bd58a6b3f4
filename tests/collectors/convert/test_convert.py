"""collectors.convert: OTLP requests in, store operations out (pure functions)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest
from opentelemetry.proto.metrics.v1.metrics_pb2 import Metric
from otlp_builders import (
    any_value,
    event,
    gauge,
    kvs,
    logs_request,
    metric,
    metrics_request,
    span,
    traces_request,
)

from collectors.convert import batch_digest, convert_logs, convert_metrics, convert_traces
from collectors.ops import (
    AppendLogLines,
    AppendPoints,
    AppendSpans,
    Converted,
    EnsureRun,
    Heartbeat,
    LogLine,
    MarkBatch,
    RecordFile,
    SetParam,
    SetProperty,
    SetStatus,
    SetTag,
    SpanRecord,
)
from runlog import conventions as c

RECEIVED = 999


def convert(*records: Any, resource: dict[str, Any] | None = None) -> Converted:
    return convert_logs(logs_request(*records, resource=resource), RECEIVED)


def points(converted: Converted) -> list[AppendPoints]:
    return [op for op in converted.ops if isinstance(op, AppendPoints)]


def only_points(converted: Converted) -> AppendPoints:
    (op,) = points(converted)
    return op


# --- single points -------------------------------------------------------------------------------


def test_one_metric_point_ensures_the_run_then_appends() -> None:
    out = convert(metric("loss", 0.5, step=3, time_ns=42))

    assert out.rejected == 0
    assert out.ops[0] == EnsureRun("r1", c.DEFAULT_EXPERIMENT, 42, None, None)
    op = only_points(out)
    assert ("r1", "loss", "", "scalar", "f8") == (op.run_id, op.name, op.column, op.kind, op.dtype)
    assert [3] == op.steps.tolist()
    assert [42] == op.times.tolist()
    assert [0.5] == list(op.values)


@pytest.mark.parametrize(
    ("value", "dtype", "numpy_kind"),
    [(0.25, "f8", "f"), (7, "i8", "i"), (True, "bool", "b"), ("abc", "str", None)],
)
def test_point_values_keep_their_dtype(value: Any, dtype: str, numpy_kind: str | None) -> None:
    op = only_points(convert(metric("m", value, step=0)))

    assert dtype == op.dtype
    assert [value] == list(op.values)
    if numpy_kind is None:
        assert isinstance(op.values, list)
    else:
        assert numpy_kind == np.asarray(op.values).dtype.kind


def test_missing_step_is_int64_min_meaning_next() -> None:
    op = only_points(convert(metric("m", 1.0), metric("m", 2.0)))

    assert [c.INT64_MIN, c.INT64_MIN] == op.steps.tolist()


@pytest.mark.parametrize(("step", "expected"), [(5, 5), (5.0, 5), (-2.0, -2), (2**62, 2**62)])
def test_integral_steps_are_accepted(step: Any, expected: int) -> None:
    assert [expected] == only_points(convert(metric("m", 1.0, step=step))).steps.tolist()


@pytest.mark.parametrize(
    ("step", "reason"),
    [
        (math.nan, "non-finite step"),
        (math.inf, "non-finite step"),
        (1.5, "not an int64 integer"),
        (2.0**63, "not an int64 integer"),
        ("3", "step must be an int"),
    ],
)
def test_bad_steps_reject_the_record(step: Any, reason: str) -> None:
    out = convert(metric("m", 1.0, step=step), metric("ok", 1.0, step=1))

    assert 1 == out.rejected
    assert reason in out.errors[0]
    assert ["ok"] == [op.name for op in points(out)]


@pytest.mark.parametrize(
    ("record", "reason"),
    [
        (metric("", 1.0), "metric name"),
        (metric("x" * 300, 1.0), "limit is 255"),
        (metric("m", b"\x00"), "must be a double, int, bool or string"),
        (metric("m", [1, 2]), "must be a double, int, bool or string"),
        (event(c.EVENT_METRIC, {c.METRIC_NAME: "m"}), "got nothing"),
        (metric("m", "v" * (c.MAX_VALUE_LENGTH + 1)), "limit 8192"),
        (metric("m", 1.0, **{c.METRIC_KIND: "histogram"}), "unknown metric kind"),
        (metric("m", 1.0, **{c.METRIC_COLUMN: "x" * 256}), "metric column"),
    ],
)
def test_invalid_points_are_rejected_with_a_reason(record: Any, reason: str) -> None:
    out = convert(record)

    assert 1 == out.rejected
    assert reason in out.errors[0]
    assert [] == out.ops  # not even an EnsureRun


def test_kind_and_column_come_from_attributes() -> None:
    extra = {c.METRIC_KIND: c.KIND_TABLE, c.METRIC_COLUMN: "acc"}
    op = only_points(convert(metric("results", 0.9, step=0, **extra)))

    assert (c.KIND_TABLE, "acc") == (op.kind, op.column)


# --- time ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("time_ns", "observed", "expected"), [(5, 6, 5), (0, 6, 6), (0, 0, RECEIVED)]
)
def test_time_falls_back_to_observed_then_receive_time(
    time_ns: int, observed: int, expected: int
) -> None:
    record = event(c.EVENT_METRIC, {c.METRIC_NAME: "m", c.METRIC_VALUE: 1.0}, time_ns, observed)

    assert [expected] == only_points(convert(record)).times.tolist()


# --- grouping ------------------------------------------------------------------------------------


def test_consecutive_points_of_one_series_make_one_operation() -> None:
    out = convert(*(metric("loss", float(i), step=i, time_ns=i + 1) for i in range(1000)))

    op = only_points(out)
    assert list(range(1000)) == op.steps.tolist()
    assert list(range(1, 1001)) == op.times.tolist()
    assert 2 == len(out.ops)


def test_interleaved_series_make_one_operation_each_in_order() -> None:
    records = [metric(name, float(i), step=i) for i in range(3) for name in ("loss", "acc")]

    out = points(convert(*records))

    assert ["loss", "acc"] == [op.name for op in out]
    assert [[0, 1, 2], [0, 1, 2]] == [op.steps.tolist() for op in out]


def test_a_dtype_change_starts_a_new_operation_keeping_order() -> None:
    out = points(convert(metric("m", 1, step=0), metric("m", 0.5, step=1), metric("m", 2, step=2)))

    assert [("i8", [0]), ("f8", [1]), ("i8", [2])] == [(o.dtype, o.steps.tolist()) for o in out]


def test_points_are_flushed_before_a_status_change() -> None:
    out = convert(metric("m", 1.0, step=0), event(c.EVENT_RUN_END))

    assert [EnsureRun, AppendPoints, SetStatus] == [type(op) for op in out.ops]


# --- which run -----------------------------------------------------------------------------------


def test_record_attributes_override_the_resource() -> None:
    resource = {c.RUN_ID: "res", c.EXPERIMENT: "exp-a", "service.name": "svc"}
    record = metric("m", 1.0, **{c.RUN_ID: "rec", c.PARENT_RUN_ID: "p1", c.RUN_NAME: "nice"})

    out = convert(record, metric("m", 2.0), resource=resource)

    ensures = [op for op in out.ops if isinstance(op, EnsureRun)]
    assert [("rec", "exp-a", "p1", "nice"), ("res", "exp-a", None, None)] == [
        (e.run_id, e.experiment, e.parent_id, e.name) for e in ensures
    ]
    assert ["rec", "res"] == [op.run_id for op in points(out)]


@pytest.mark.parametrize(
    ("resource", "experiment"),
    [
        ({"service.name": "trainer"}, "trainer"),
        ({"service.name": "unknown_service:python"}, c.DEFAULT_EXPERIMENT),
        ({}, c.DEFAULT_EXPERIMENT),
    ],
)
def test_experiment_defaults_to_service_name(resource: dict[str, Any], experiment: str) -> None:
    out = convert(metric("m", 1.0), resource={c.RUN_ID: "r1", **resource})

    assert experiment == out.ops[0].experiment  # type: ignore[union-attr]  # an EnsureRun


@pytest.mark.parametrize(
    ("resource", "reason"),
    [({}, "no runlog.run.id"), ({c.RUN_ID: "bad id!"}, "invalid runlog.run.id")],
)
def test_records_without_a_valid_run_are_rejected(resource: dict[str, Any], reason: str) -> None:
    out = convert(metric("m", 1.0), resource=resource)

    assert (1, []) == (out.rejected, out.ops)
    assert reason in out.errors[0]


def test_one_ensure_run_per_run() -> None:
    out = convert(metric("a", 1.0), metric("b", 1.0), event(c.EVENT_RUN_START))

    assert 1 == sum(isinstance(op, EnsureRun) for op in out.ops)


def test_batch_id_marks_the_batch_first_with_the_requests_digest() -> None:
    request = logs_request(metric("m", 1.0), resource={c.RUN_ID: "r1", c.BATCH_ID: "b-1"})
    digest = batch_digest(request.SerializeToString())

    assert MarkBatch("b-1", digest) == convert_logs(request, RECEIVED).ops[0]


def test_the_batch_digest_is_of_the_body_as_received() -> None:
    request = logs_request(metric("m", 1.0), resource={c.RUN_ID: "r1", c.BATCH_ID: "b-1"})

    out = convert_logs(request, RECEIVED, b"the body")

    assert MarkBatch("b-1", batch_digest(b"the body")) == out.ops[0]


@pytest.mark.parametrize("kind", ["traces", "metrics"])
def test_traces_and_metrics_take_batch_ids_too(kind: str) -> None:
    resource = {c.RUN_ID: "r1", c.BATCH_ID: "b-2"}
    if kind == "traces":
        out = convert_traces(traces_request(span("fit"), resource=resource), RECEIVED, b"x")
    else:
        request = metrics_request(gauge("cpu", (1, 0.5, {})), resource=resource)
        out = convert_metrics(request, RECEIVED, b"x")

    assert MarkBatch("b-2", batch_digest(b"x")) == out.ops[0]


def test_event_name_attribute_is_the_fallback() -> None:
    record = event(None, {"event.name": c.EVENT_METRIC, c.METRIC_NAME: "m", c.METRIC_VALUE: 1.0})

    assert ["m"] == [op.name for op in points(convert(record))]


def test_log_records_of_no_run_are_ignored() -> None:
    out = convert(event(None, {"msg": "hello"}), event("other.event"), resource={})

    assert (0, []) == (out.rejected, out.ops)


def test_unknown_runlog_events_are_ignored() -> None:
    out = convert(event("runlog.future", {"x": 1}))

    assert (0, []) == (out.rejected, out.ops)


# --- packed points -------------------------------------------------------------------------------


def packed(dtype: str, values: Any, steps: Any = (0, 1, 2), times: Any = (5, 0, 7)) -> Any:
    attributes = {
        c.METRIC_NAME: "m",
        c.METRIC_DTYPE: dtype,
        c.METRIC_STEPS: steps if isinstance(steps, bytes) else np.asarray(steps, "<i8").tobytes(),
        c.METRIC_TIMESTAMPS: np.asarray(times, "<i8").tobytes(),
        c.METRIC_VALUES: values,
    }
    return event(c.EVENT_METRIC_PACKED, attributes, time_ns=100)


@pytest.mark.parametrize(
    ("dtype", "raw", "expected"),
    [
        ("f8", np.array([0.5, math.inf, -1.0], "<f8").tobytes(), [0.5, math.inf, -1.0]),
        ("i8", np.array([1, -2, 2**40], "<i8").tobytes(), [1, -2, 2**40]),
        ("bool", bytes([1, 0, 1]), [True, False, True]),
        ("str", ["a", "b", "c"], ["a", "b", "c"]),
    ],
)
def test_packed_points_decode(dtype: str, raw: Any, expected: list[Any]) -> None:
    op = only_points(convert(packed(dtype, raw)))

    assert dtype == op.dtype
    assert expected == list(op.values)
    assert [0, 1, 2] == op.steps.tolist()
    assert [5, 100, 7] == op.times.tolist()  # a zero timestamp takes the record's time


@pytest.mark.parametrize(
    ("record", "reason"),
    [
        (packed("f8", np.zeros(2).tobytes()), "differ in length"),
        (packed("f16", np.zeros(3).tobytes()), "unknown runlog.metric.dtype"),
        (packed("f8", b"\x00" * 7), "not a multiple of 8"),
        (packed("f8", np.zeros(3).tobytes(), steps=b"\x00" * 3), "not a multiple of 8"),
        (packed("bool", bytes([0, 2, 1])), "0 or 1"),
        (packed("str", ["a", 1, "c"]), "non-string"),
        (packed("i8", "not bytes"), "must be bytes"),
    ],
)
def test_bad_packed_records_are_rejected(record: Any, reason: str) -> None:
    out = convert(record)

    assert 1 == out.rejected
    assert reason in out.errors[0]


def test_single_points_before_a_packed_chunk_of_the_same_series_stay_first() -> None:
    out = points(convert(metric("m", 9.0, step=-1), packed("f8", np.zeros(3).tobytes())))

    assert [[-1], [0, 1, 2]] == [op.steps.tolist() for op in out]


# --- lifecycle -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("record", "expected"),
    [
        (event(c.EVENT_RUN_START, time_ns=3), SetStatus("r1", "Running", 3)),
        (event(c.EVENT_RUN_END, time_ns=3), SetStatus("r1", "Completed", 3)),
        (
            event(c.EVENT_RUN_END, {c.STATUS: "Failed", c.ERROR: "boom"}, time_ns=3),
            SetStatus("r1", "Failed", 3, "boom"),
        ),
        (event(c.EVENT_RUN_STATUS, {c.STATUS: "Canceled"}, 3), SetStatus("r1", "Canceled", 3)),
    ],
)
def test_lifecycle_events_set_the_status(record: Any, expected: SetStatus) -> None:
    out = convert(record)

    assert [EnsureRun("r1", c.DEFAULT_EXPERIMENT, 3), expected] == out.ops


@pytest.mark.parametrize(
    "record",
    [
        event(c.EVENT_RUN_STATUS),
        event(c.EVENT_RUN_STATUS, {c.STATUS: "Sleeping"}),
        event(c.EVENT_RUN_END, {c.STATUS: "Running"}),
    ],
)
def test_bad_statuses_are_rejected(record: Any) -> None:
    out = convert(record)

    assert 1 == out.rejected
    assert "runlog.run.status" in out.errors[0]


def test_a_long_error_text_is_truncated() -> None:
    record = event(c.EVENT_RUN_END, {c.STATUS: "Failed", c.ERROR: "e" * 10_000})

    (status,) = [op for op in convert(record).ops if isinstance(op, SetStatus)]
    assert c.MAX_VALUE_LENGTH == len(status.error or "")


# --- tags, params, properties --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "op_type"),
    [(c.EVENT_TAG, SetTag), (c.EVENT_PARAM, SetParam), (c.EVENT_PROPERTY, SetProperty)],
)
@pytest.mark.parametrize(
    ("value", "text"),
    [
        ("x", "x"),
        (0.5, "0.5"),
        (3, "3"),
        (True, "True"),
        ([1, "a"], '[1,"a"]'),
        # JSON has no bytes and no NaN: hex and the API's strings, never a crash
        ([b"\x01", float("nan"), float("-inf")], '["01","NaN","-Infinity"]'),
    ],
)
def test_key_value_events(name: str, op_type: type, value: Any, text: str) -> None:
    out = convert(event(name, {c.KEY: "k", c.VALUE: value}))

    assert op_type("r1", "k", text) == out.ops[-1]


@pytest.mark.parametrize(
    ("attributes", "reason"),
    [
        ({c.VALUE: "v"}, "key is missing"),
        ({c.KEY: "k"}, "value is missing"),
        ({c.KEY: "k", c.VALUE: b"\x01"}, "value is bytes"),
        ({c.KEY: "k", c.VALUE: "v" * 9000}, "limit 8192"),
    ],
)
def test_bad_key_value_events_are_rejected(attributes: dict[str, Any], reason: str) -> None:
    out = convert(event(c.EVENT_PARAM, attributes))

    assert (1, []) == (out.rejected, out.ops)
    assert reason in out.errors[0]


# --- traces and metrics --------------------------------------------------------------------------


def test_a_root_span_without_a_run_becomes_a_run() -> None:
    out = convert_traces(traces_request(span("fit"), resource={"service.name": "svc"}), RECEIVED)

    run_id = bytes(range(16)).hex()
    assert [
        EnsureRun(run_id, "svc", 10, None, "fit"),
        AppendSpans(run_id, (span_record("fit"),)),
        SetStatus(run_id, "Completed", 20),
    ] == out.ops


def test_a_failed_root_span_fails_its_run() -> None:
    out = convert_traces(traces_request(span("fit", error="oops"), resource={}), RECEIVED)

    assert SetStatus(bytes(range(16)).hex(), "Failed", 20, "oops") == out.ops[-1]


def test_spans_naming_a_run_become_its_timeline() -> None:
    request = traces_request(span("a"), span("b", parent=b"\x02" * 8), resource={c.RUN_ID: "r9"})

    assert [
        EnsureRun("r9", c.DEFAULT_EXPERIMENT, 10),
        AppendSpans("r9", (span_record("a"), span_record("b", parent="02" * 8))),
    ] == convert_traces(request, RECEIVED).ops


def test_child_spans_without_a_run_are_ignored() -> None:
    request = traces_request(span("child", parent=b"\x02" * 8), resource={})

    assert [] == convert_traces(request, RECEIVED).ops


def test_gauges_become_points_of_the_resource_run() -> None:
    request = metrics_request(
        gauge("cpu", (1, 0.5, {}), (2, 0.7, {}), (3, 4, {"core": 1})), resource={c.RUN_ID: "r1"}
    )

    out = points(convert_metrics(request, RECEIVED))

    assert [("cpu", "", "f8", [1, 2], [0.5, 0.7]), ("cpu", "core=1", "i8", [3], [4])] == [
        (op.name, op.column, op.dtype, op.times.tolist(), list(op.values)) for op in out
    ]
    assert {c.INT64_MIN} == {s for op in out for s in op.steps.tolist()}


def test_metrics_without_a_run_are_skipped_silently() -> None:
    out = convert_metrics(metrics_request(gauge("cpu", (1, 0.5, {})), resource={}), RECEIVED)

    assert (0, []) == (out.rejected, out.ops)


def test_any_value_helper_round_trip() -> None:
    """Guards the test helper itself: bools must not become ints."""
    assert "bool_value" == any_value(True).WhichOneof("value")


def span_record(name: str, parent: str | None = None) -> SpanRecord:
    """What `otlp_builders.span` makes of *name*."""
    trace_id, span_id = bytes(range(16)).hex(), "01" * 8
    return SpanRecord(trace_id, span_id, parent, name, "UNSPECIFIED", 10, 20, "UNSET", "", "{}")


# --- log lines -----------------------------------------------------------------------------------


def log_record(
    body: Any = "hello",
    severity: int = 0,
    text: str = "",
    time_ns: int = 0,
    observed: int = 0,
    attributes: dict[str, Any] | None = None,
) -> Any:
    record = event(None, attributes, time_ns, observed)
    record.severity_number = severity  # type: ignore[assignment]  # protobuf enum takes an int
    record.severity_text = text
    if body is not None:
        record.body.CopyFrom(any_value(body))
    return record


def log_lines(converted: Converted) -> list[LogLine]:
    return [line for op in converted.ops if isinstance(op, AppendLogLines) for line in op.lines]


def test_a_plain_log_record_of_a_run_is_a_log_line() -> None:
    request = logs_request(log_record("hello", 9, "INFO", time_ns=42))
    request.resource_logs[0].scope_logs[0].scope.name = "trainer.loop"

    out = convert_logs(request, RECEIVED)

    assert [
        EnsureRun("r1", c.DEFAULT_EXPERIMENT, 42),
        AppendLogLines("r1", (LogLine(42, 9, "INFO", "trainer.loop", "hello", None, None),)),
    ] == out.ops


@pytest.mark.parametrize(
    ("time_ns", "observed", "expected"),
    [(5, 7, 5), (0, 7, 7), (0, 0, RECEIVED)],
    ids=["own-time", "observed", "arrival"],
)
def test_a_log_line_time_falls_back(time_ns: int, observed: int, expected: int) -> None:
    (line,) = log_lines(convert(log_record(time_ns=time_ns, observed=observed)))

    assert expected == line.time_ns


@pytest.mark.parametrize(
    ("number", "text", "expected"),
    [
        (0, "", ""),
        (1, "", "TRACE"),
        (4, "", "TRACE"),
        (5, "", "DEBUG"),
        (9, "", "INFO"),
        (12, "", "INFO"),
        (13, "", "WARN"),
        (17, "", "ERROR"),
        (20, "", "ERROR"),
        (21, "", "FATAL"),
        (24, "", "FATAL"),
        (13, "WARNING", "WARNING"),  # the producer's own text wins
        (0, "notice", "notice"),
    ],
)
def test_the_level_is_the_severity_text_else_derived(number: int, text: str, expected: str) -> None:
    (line,) = log_lines(convert(log_record(severity=number, text=text)))

    assert (number, expected) == (line.level_number, line.level)


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("plain text", "plain text"),
        (None, ""),
        (3, "3"),
        (2.5, "2.5"),
        (True, "true"),
        (["a", 1], '["a",1]'),
        (b"\x01\xff", "01ff"),
        ([b"\x01", float("inf")], '["01","Infinity"]'),
    ],
    ids=["string", "empty", "int", "double", "bool", "array", "bytes", "array-of-json-gaps"],
)
def test_the_body_is_the_message(body: Any, expected: str) -> None:
    (line,) = log_lines(convert(log_record(body)))

    assert expected == line.message


@pytest.mark.parametrize(
    ("attributes", "expected"),
    [
        ({}, None),
        ({"exception.type": "ValueError"}, "ValueError"),
        ({"exception.type": "ValueError", "exception.message": "bad"}, "ValueError: bad"),
        (
            {"exception.type": "E", "exception.stacktrace": "Traceback…\nE: bad"},
            "Traceback…\nE: bad",
        ),
    ],
    ids=["none", "type", "type-message", "stacktrace"],
)
def test_exception_attributes_make_the_exception_text(
    attributes: dict[str, Any], expected: str | None
) -> None:
    (line,) = log_lines(convert(log_record(attributes=attributes)))

    assert expected == line.exception


@pytest.mark.parametrize(
    ("stream", "expected"), [("stdout", "stdout"), ("stderr", "stderr"), ("other", None)]
)
def test_log_iostream_marks_captured_output(stream: str, expected: str | None) -> None:
    (line,) = log_lines(convert(log_record("out", attributes={"log.iostream": stream})))

    assert expected == line.stream


def test_lines_of_a_run_make_one_operation_in_order_around_points() -> None:
    out = convert(
        log_record("a", time_ns=1), metric("loss", 0.5, step=0), log_record("b"), log_record("c")
    )

    assert [EnsureRun, AppendPoints, AppendLogLines] == [type(op) for op in out.ops]
    assert ["a", "b", "c"] == [line.message for line in log_lines(out)]


def test_a_status_change_comes_after_the_lines_before_it() -> None:
    out = convert(log_record("last words"), event(c.EVENT_RUN_END), log_record("after"))

    assert [EnsureRun, AppendLogLines, SetStatus, AppendLogLines] == [type(op) for op in out.ops]


def test_lines_of_several_runs_keep_their_run() -> None:
    out = convert(
        log_record("one"),
        log_record("two", attributes={c.RUN_ID: "r2"}),
        log_record("three"),
    )

    assert {"r1": ["one", "three"], "r2": ["two"]} == {
        op.run_id: [line.message for line in op.lines]
        for op in out.ops
        if isinstance(op, AppendLogLines)
    }


def test_a_line_with_an_invalid_run_id_is_rejected() -> None:
    out = convert(log_record("x"), resource={c.RUN_ID: "bad id"})

    assert (1, []) == (out.rejected, out.ops)


# --- spans ---------------------------------------------------------------------------------------


def test_a_span_keeps_ids_kind_status_and_attributes() -> None:
    one = span("fit", parent=b"\x02" * 8, error="diverged", attributes={"epochs": 3, "ok": False})
    one.kind = 2  # type: ignore[assignment]  # SERVER
    out = convert_traces(traces_request(one, resource={c.RUN_ID: "r1"}), RECEIVED)

    (record,) = [s for op in out.ops if isinstance(op, AppendSpans) for s in op.spans]
    assert (
        SpanRecord(
            bytes(range(16)).hex(),
            "01" * 8,
            "02" * 8,
            "fit",
            "SERVER",
            10,
            20,
            "ERROR",
            "diverged",
            '{"epochs":3,"ok":false}',
        )
        == record
    )


def test_a_root_span_run_keeps_the_child_spans_of_its_request() -> None:
    child = span("step", parent=b"\x01" * 8)
    child.span_id = b"\x03" * 8
    out = convert_traces(traces_request(child, span("fit"), resource={}), RECEIVED)

    run_id = bytes(range(16)).hex()
    assert EnsureRun(run_id, c.DEFAULT_EXPERIMENT, 10, None, "fit") == out.ops[0]
    spans = [s.name for op in out.ops if isinstance(op, AppendSpans) for s in op.spans]
    assert ["step", "fit"] == spans
    assert SetStatus(run_id, "Completed", 20) == out.ops[-1]


def test_a_span_with_malformed_ids_is_rejected() -> None:
    bad = span("x")
    bad.span_id = b"\x01"
    out = convert_traces(traces_request(bad, resource={c.RUN_ID: "r1"}), RECEIVED)

    assert (1, []) == (out.rejected, out.ops)


# --- histograms ----------------------------------------------------------------------------------


def histogram(name: str, *points: dict[str, Any], exponential: bool = False) -> Metric:
    out = Metric(name=name)
    target = out.exponential_histogram if exponential else out.histogram
    for fields in points:
        point = target.data_points.add()
        attributes = fields.pop("attributes", {})
        for key, value in fields.items():
            if isinstance(value, list):
                getattr(point, key).extend(value)
            else:
                setattr(point, key, value)
        point.attributes.extend(kvs(attributes))
    return out


def histogram_points(*metrics: Metric) -> dict[str, tuple[str, list[Any]]]:
    request = metrics_request(*metrics, resource={c.RUN_ID: "r1"})
    out = points(convert_metrics(request, RECEIVED))
    assert {c.KIND_HISTOGRAM} == {op.kind for op in out}
    return {op.column: (op.dtype, list(op.values)) for op in out}


def test_an_explicit_histogram_keeps_count_sum_min_max_and_buckets() -> None:
    metric_ = histogram(
        "latency",
        {
            "time_unix_nano": 5,
            "count": 3,
            "sum": 6.0,
            "min": 0.5,
            "max": 5.0,
            "explicit_bounds": [1.0, 10.0],
            "bucket_counts": [1, 2, 0],
        },
    )

    assert {
        "count": ("i8", [3]),
        "sum": ("f8", [6.0]),
        "min": ("f8", [0.5]),
        "max": ("f8", [5.0]),
        "buckets": ("str", ['{"bounds":[1.0,10.0],"counts":[1,2,0]}']),
    } == histogram_points(metric_)


def test_a_histogram_without_min_max_keeps_its_steps_aligned_with_nan() -> None:
    found = histogram_points(histogram("h", {"time_unix_nano": 5, "count": 0}))

    assert [0] == found["count"][1]
    assert all(math.isnan(found[k][1][0]) for k in ("sum", "min", "max"))


def test_an_exponential_histogram_keeps_count_sum_min_max() -> None:
    metric_ = histogram(
        "h", {"time_unix_nano": 5, "count": 2, "sum": 3.0, "min": 1.0, "max": 2.0}, exponential=True
    )

    assert {
        "count": ("i8", [2]),
        "sum": ("f8", [3.0]),
        "min": ("f8", [1.0]),
        "max": ("f8", [2.0]),
    } == histogram_points(metric_)


def test_histogram_points_with_attributes_get_their_own_columns() -> None:
    metric_ = histogram(
        "h",
        {"time_unix_nano": 5, "count": 1, "attributes": {"route": "/a"}},
        {"time_unix_nano": 5, "count": 2, "attributes": {"route": "/b"}},
    )

    found = histogram_points(metric_)

    assert (["i8"], [1], [2]) == (
        list({found["count{route=/a}"][0]}),
        found["count{route=/a}"][1],
        found["count{route=/b}"][1],
    )


# --- liveness and file events -----------------------------------------------------------------


def test_a_heartbeat_ensures_the_run_and_asks_to_watch_it() -> None:
    out = convert(event(c.EVENT_RUN_HEARTBEAT, time_ns=5))

    assert [EnsureRun("r1", c.DEFAULT_EXPERIMENT, 5), Heartbeat("r1")] == out.ops


def test_a_file_event_records_a_file_without_replacing_an_upload() -> None:
    digest = "ab" * 32
    attributes = {c.FILE_PATH: "outputs/model.pkl", c.FILE_SIZE: 12, c.FILE_SHA256: digest}

    out = convert(event(c.EVENT_FILE, attributes, time_ns=7))

    record = RecordFile("r1", c.DEFAULT_EXPERIMENT, "outputs/model.pkl", 12, digest, 7, False)
    assert [EnsureRun("r1", c.DEFAULT_EXPERIMENT, 7), record] == out.ops


@pytest.mark.parametrize(
    ("attributes", "reason"),
    [
        ({c.FILE_SIZE: 1, c.FILE_SHA256: "ab" * 32}, "runlog.file.path"),
        ({c.FILE_PATH: "../x", c.FILE_SIZE: 1, c.FILE_SHA256: "ab" * 32}, "'..'"),
        ({c.FILE_PATH: "x", c.FILE_SIZE: -1, c.FILE_SHA256: "ab" * 32}, "non-negative"),
        ({c.FILE_PATH: "x", c.FILE_SIZE: "1", c.FILE_SHA256: "ab" * 32}, "non-negative"),
        ({c.FILE_PATH: "x", c.FILE_SIZE: 1, c.FILE_SHA256: "AB" * 32}, "lowercase hex"),
        ({c.FILE_PATH: "x", c.FILE_SIZE: 1}, "lowercase hex"),
    ],
)
def test_a_malformed_file_event_is_rejected(attributes: dict[str, Any], reason: str) -> None:
    out = convert(event(c.EVENT_FILE, attributes))

    assert (1, []) == (out.rejected, out.ops)
    assert reason in out.errors[0]


# --- values past what the store can hold ----------------------------------------------------------

PAST_INT64 = 2**64 - 1


def test_a_record_time_past_int64_is_rejected_and_the_rest_kept() -> None:
    out = convert(metric("m", 1.0, step=1, time_ns=PAST_INT64), metric("m", 2.0, step=2))

    assert 1 == out.rejected
    assert "past the int64 range" in out.errors[0]
    assert [[2]] == [list(op.steps) for op in points(out)]


def test_a_log_line_observed_past_int64_is_rejected() -> None:
    out = convert(event(None, {"msg": 1}, observed=PAST_INT64))

    assert (1, []) == (out.rejected, out.ops)


@pytest.mark.parametrize("field", ["start_time_unix_nano", "end_time_unix_nano"])
def test_a_span_time_past_int64_is_rejected(field: str) -> None:
    bad = span("fit")
    setattr(bad, field, PAST_INT64)

    for resource in ({c.RUN_ID: "r1"}, {}):  # a run's span, and a root span making a run
        out = convert_traces(traces_request(bad, resource=resource), RECEIVED)
        assert (1, []) == (out.rejected, out.ops)


def test_metric_points_past_int64_are_rejected() -> None:
    late = gauge("cpu", (PAST_INT64, 0.5, {}))
    big_count = histogram("h", {"time_unix_nano": 5, "count": 2**63})
    request = metrics_request(late, big_count, resource={c.RUN_ID: "r1"})

    out = convert_metrics(request, RECEIVED)

    assert (2, []) == (out.rejected, out.ops)


def test_unknown_span_kind_and_status_code_are_kept_as_unspecified_and_unset() -> None:
    odd = span("fit")
    odd.kind, odd.status.code = 99, 99  # type: ignore[assignment]  # open enums on the wire

    out = convert_traces(traces_request(odd, resource={c.RUN_ID: "r1"}), RECEIVED)

    (record,) = next(op for op in out.ops if isinstance(op, AppendSpans)).spans
    assert ("UNSPECIFIED", "UNSET") == (record.kind, record.status_code)
