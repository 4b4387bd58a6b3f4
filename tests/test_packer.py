"""Packing buffered calls into OTLP records: what goes on the wire."""

from __future__ import annotations

import math
import struct
from collections import deque
from collections.abc import Sequence
from typing import Any

import pytest
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest

from runlog import conventions as c
from runlog._otlp_encode import encode
from runlog._packer import MAX_SEGMENT, OP_EVENT, OP_POINTS, OP_SERIES, Packer, RunHandle
from runlog._records import RunKey, Segment


def _handle() -> RunHandle:
    return RunHandle(RunKey("run-1", "exp", None, "first"))


def _segments(records: Sequence[object]) -> list[Segment]:
    """*records*, checked to be all Segments: what packing only metric points yields."""
    segments = [r for r in records if isinstance(r, Segment)]
    assert len(records) == len(segments), records
    return segments


def _pack_scalars(points: list[tuple[Any, Any, int]], name: str = "loss") -> list[Segment]:
    handle = _handle()
    records, _ = Packer().pack([(OP_SERIES, handle, name, deque(points))])
    return _segments(records)


def test_auto_steps_count_from_zero_and_continue_across_cycles() -> None:
    handle = _handle()
    packer = Packer()
    queue: deque[tuple[Any, Any, int]] = deque([(0.1, None, 1), (0.2, None, 2)])
    first, _ = packer.pack([(OP_SERIES, handle, "loss", queue)])
    queue.extend([(0.3, None, 3)])
    second, _ = packer.pack([])
    assert [0, 1] == list(_segments(first)[0].steps)
    assert [2] == list(_segments(second)[0].steps)


def test_explicit_step_sets_the_next_auto_step() -> None:
    records = _pack_scalars([(1.0, 10, 1), (2.0, None, 2)])
    assert [10, 11] == [s for r in records for s in r.steps]


def test_dtype_changes_start_new_segments_in_order() -> None:
    records = _pack_scalars([(1.0, None, 1), (2, None, 2), ("a", None, 3), (True, None, 4)])
    assert [c.DTYPE_FLOAT, c.DTYPE_INT, c.DTYPE_STR, c.DTYPE_BOOL] == [r.dtype for r in records]


def test_bad_points_are_dropped_and_the_rest_kept(caplog: pytest.LogCaptureFixture) -> None:
    records = _pack_scalars([(1.0, None, 1), (2.0, math.nan, 2), (3.0, None, 3)])
    assert [1.0, 3.0] == [v for r in records for v in r.values]
    assert "finite" in caplog.text


def test_long_series_are_split() -> None:
    records = _pack_scalars([(float(i), None, i) for i in range(MAX_SEGMENT + 5)])
    assert [MAX_SEGMENT, 5] == [len(r.steps) for r in records]


def test_rows_share_a_row_index_per_table() -> None:
    handle = _handle()
    items = [
        (OP_POINTS, handle, "Cosine Wave", c.KIND_ROW, {"angle": [0.5], "cos": [0.87]}, 1),
        (OP_POINTS, handle, "Cosine Wave", c.KIND_ROW, {"angle": [1.0], "cos": [0.54]}, 2),
    ]
    records, _ = Packer().pack(items)
    steps = {(r.column, s) for r in _segments(records) for s in r.steps}
    assert {("angle", 0), ("cos", 0), ("angle", 1), ("cos", 1)} == steps


def test_a_name_keeps_its_first_kind(caplog: pytest.LogCaptureFixture) -> None:
    handle = _handle()
    items = [
        (OP_POINTS, handle, "acc", c.KIND_LIST, {"": [0.5]}, 1),
        (OP_POINTS, handle, "acc", c.KIND_ROW, {"x": [1.0]}, 2),
    ]
    records, _ = Packer().pack(items)
    assert [c.KIND_LIST] == [r.kind for r in _segments(records)]
    assert "logged as list before" in caplog.text


def _decode(body: bytes) -> ExportLogsServiceRequest:
    request = ExportLogsServiceRequest()
    request.ParseFromString(body)
    return request


def test_encoded_packed_record_carries_little_endian_arrays() -> None:
    values = [0.1, -0.0, math.inf, 5e-324]
    records = _pack_scalars([(v, None, 1000 + i) for i, v in enumerate(values)])
    request = _decode(next(encode(records)))
    resource = {a.key: a.value.string_value for a in request.resource_logs[0].resource.attributes}
    record = request.resource_logs[0].scope_logs[0].log_records[0]
    attrs = {a.key: a.value for a in record.attributes}
    assert "run-1" == resource[c.RUN_ID]
    assert "exp" == resource[c.EXPERIMENT]
    assert 32 == len(resource[c.BATCH_ID])
    assert c.EVENT_METRIC_PACKED == record.event_name
    assert values == list(struct.unpack("<4d", attrs[c.METRIC_VALUES].bytes_value))
    assert [0, 1, 2, 3] == list(struct.unpack("<4q", attrs[c.METRIC_STEPS].bytes_value))
    assert [1000, 1001, 1002, 1003] == list(
        struct.unpack("<4q", attrs[c.METRIC_TIMESTAMPS].bytes_value)
    )


def test_requests_are_cut_near_the_size_limit() -> None:
    records = _pack_scalars([(float(i), None, i) for i in range(30_000)])
    split = [
        Segment(
            r.run,
            r.name,
            r.column,
            r.kind,
            r.dtype,
            list(r.steps)[i : i + 1000],
            r.times[i : i + 1000],
            r.values[i : i + 1000],
        )
        for r in records
        for i in range(0, 30_000, 1000)
    ]
    bodies = list(encode(split, max_bytes=100_000))
    assert len(bodies) >= 7
    assert 30_000 == sum(
        len(rec.attributes[3].value.bytes_value) // 8
        for body in bodies
        for rl in _decode(body).resource_logs
        for rec in rl.scope_logs[0].log_records
    )


def test_events_keep_their_attributes() -> None:
    handle = _handle()
    records, _ = Packer().pack([(OP_EVENT, handle, c.EVENT_TAG, ((c.KEY, "k"), (c.VALUE, "v")), 7)])
    record = _decode(next(encode(records))).resource_logs[0].scope_logs[0].log_records[0]
    assert c.EVENT_TAG == record.event_name
    assert 7 == record.time_unix_nano
    assert {c.KEY: "k", c.VALUE: "v"} == {a.key: a.value.string_value for a in record.attributes}
