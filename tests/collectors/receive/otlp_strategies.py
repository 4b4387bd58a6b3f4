"""Hypothesis strategies for hostile OTLP requests (test helper for the fuzz tests).

`requests` builds structurally valid protobuf requests whose contents are anything the wire
allows: runlog's attribute names with values of every type, times up to 2^64 - 1, enum
numbers no version defines, nested AnyValues, ids of the wrong length. `bodies` adds the
bytes no encoder would produce: random bytes, and valid requests with flipped, cut or
spliced bytes. `json_bodies` does the same for OTLP/JSON.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np
from google.protobuf import json_format
from google.protobuf.message import Message
from hypothesis import strategies as st
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
)
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue

from runlog import conventions as c

KEYS = [
    c.RUN_ID,
    c.EXPERIMENT,
    c.PARENT_RUN_ID,
    c.RUN_NAME,
    c.BATCH_ID,
    c.EVENT_NAME_ATTRIBUTE,
    c.METRIC_NAME,
    c.METRIC_VALUE,
    c.METRIC_STEP,
    c.METRIC_KIND,
    c.METRIC_COLUMN,
    c.METRIC_DTYPE,
    c.METRIC_STEPS,
    c.METRIC_TIMESTAMPS,
    c.METRIC_VALUES,
    c.KEY,
    c.VALUE,
    c.STATUS,
    c.ERROR,
    c.FILE_PATH,
    c.FILE_SIZE,
    c.FILE_SHA256,
    c.LOG_IOSTREAM,
    "service.name",
    "exception.type",
    "exception.stacktrace",
    "x",
]
EVENTS = [
    c.EVENT_METRIC,
    c.EVENT_METRIC_PACKED,
    c.EVENT_RUN_START,
    c.EVENT_RUN_STATUS,
    c.EVENT_RUN_END,
    c.EVENT_RUN_HEARTBEAT,
    c.EVENT_TAG,
    c.EVENT_PARAM,
    c.EVENT_PROPERTY,
    c.EVENT_FILE,
    "runlog.future",
    "other",
    "",
]
WORDS = [
    "r1",
    "r2",
    "bad id!",
    "x" * 70,
    "f8",
    "i8",
    "bool",
    "str",
    "scalar",
    "row",
    "table",
    "image",
    "Completed",
    "Failed",
    "NotResponding",
    "../x",
    "outputs/model.pkl",
    "ab" * 32,
    "",
    " ",
    "\x00",
]
UINT64 = st.one_of(
    st.sampled_from([0, 1, 2**62, 2**63 - 1, 2**63, 2**64 - 1]), st.integers(0, 2**64 - 1)
)
INT64 = st.one_of(st.sampled_from([0, -1, -(2**63), 2**63 - 1]), st.integers(-(2**63), 2**63 - 1))
TEXT = st.one_of(st.sampled_from(WORDS), st.text(max_size=12))


def _packed(values: list[int]) -> bytes:
    return np.array(values, dtype="<i8").tobytes()


SCALARS = st.one_of(
    TEXT.map(lambda v: AnyValue(string_value=v)),
    INT64.map(lambda v: AnyValue(int_value=v)),
    st.floats(allow_nan=True, allow_infinity=True).map(lambda v: AnyValue(double_value=v)),
    st.booleans().map(lambda v: AnyValue(bool_value=v)),
    st.binary(max_size=24).map(lambda v: AnyValue(bytes_value=v)),
    st.lists(INT64, max_size=4).map(lambda v: AnyValue(bytes_value=_packed(v))),
    st.just(AnyValue()),
)


def _array(items: list[AnyValue]) -> AnyValue:
    out = AnyValue()
    out.array_value.values.extend(items)
    return out


def _kvlist(items: list[tuple[str, AnyValue]]) -> AnyValue:
    out = AnyValue()
    out.kvlist_value.values.extend(KeyValue(key=k, value=v) for k, v in items)
    return out


ANY_VALUES = st.recursive(
    SCALARS,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3).map(_array),
        st.lists(st.tuples(TEXT, inner), max_size=3).map(_kvlist),
    ),
    max_leaves=6,
)
ATTRIBUTES = st.lists(
    st.tuples(st.one_of(st.sampled_from(KEYS), TEXT), ANY_VALUES), max_size=6
).map(lambda pairs: [KeyValue(key=k, value=v) for k, v in pairs])


def _with(first: dict[str, AnyValue]) -> st.SearchStrategy[list[KeyValue]]:
    """`ATTRIBUTES` after *first*, half of the time: records that get past the first checks."""
    given = [KeyValue(key=k, value=v) for k, v in first.items()]
    return st.one_of(ATTRIBUTES, ATTRIBUTES.map(lambda rest: [*given, *rest]))


RESOURCE_ATTRIBUTES = _with({c.RUN_ID: AnyValue(string_value="fuzz-run")})
RECORD_ATTRIBUTES = _with(
    {c.METRIC_NAME: AnyValue(string_value="loss"), c.METRIC_VALUE: AnyValue(double_value=0.5)}
)


def _scope(draw: st.DrawFn, resources: Any, scopes: str) -> Any:
    """A new resource of *resources* with hostile attributes, and a new scope in it."""
    resource = resources.add()
    resource.resource.attributes.extend(draw(RESOURCE_ATTRIBUTES))
    return getattr(resource, scopes).add()


@st.composite
def _logs(draw: st.DrawFn) -> ExportLogsServiceRequest:
    request = ExportLogsServiceRequest()
    for _ in range(draw(st.integers(0, 2))):
        scope = _scope(draw, request.resource_logs, "scope_logs")
        scope.scope.name = draw(TEXT)
        for _ in range(draw(st.integers(0, 3))):
            record = scope.log_records.add()
            record.event_name = draw(st.sampled_from(EVENTS))
            record.time_unix_nano = draw(UINT64)
            record.observed_time_unix_nano = draw(UINT64)
            record.severity_number = draw(st.integers(-3, 40))  # type: ignore[assignment]  # open enum
            record.severity_text = draw(TEXT)
            if draw(st.booleans()):
                record.body.CopyFrom(draw(ANY_VALUES))
            record.attributes.extend(draw(RECORD_ATTRIBUTES))
    return request


@st.composite
def _traces(draw: st.DrawFn) -> ExportTraceServiceRequest:
    request = ExportTraceServiceRequest()
    scope = _scope(draw, request.resource_spans, "scope_spans")
    for _ in range(draw(st.integers(0, 3))):
        span = scope.spans.add()
        span.trace_id = draw(st.sampled_from([bytes(range(16)), b"", b"\x01" * 8]))
        span.span_id = draw(st.sampled_from([b"\x02" * 8, b"", b"\x03" * 16]))
        span.parent_span_id = draw(st.sampled_from([b"", b"\x02" * 8]))
        span.name = draw(TEXT)
        span.kind = draw(st.integers(-2, 120))  # type: ignore[assignment]  # open enum
        span.start_time_unix_nano = draw(UINT64)
        span.end_time_unix_nano = draw(UINT64)
        span.status.code = draw(st.integers(-2, 120))  # type: ignore[assignment]  # open enum
        span.status.message = draw(TEXT)
        span.attributes.extend(draw(ATTRIBUTES))
    return request


@st.composite
def _metrics(draw: st.DrawFn) -> ExportMetricsServiceRequest:
    request = ExportMetricsServiceRequest()
    scope = _scope(draw, request.resource_metrics, "scope_metrics")
    for _ in range(draw(st.integers(0, 3))):
        metric = scope.metrics.add()
        metric.name = draw(TEXT)
        shape = draw(st.sampled_from(["gauge", "sum", "histogram", "exp", "summary"]))
        if shape in ("gauge", "sum"):
            point = getattr(metric, shape).data_points.add()
            if draw(st.booleans()):
                point.as_int = draw(INT64)
            else:
                point.as_double = draw(st.floats())
        elif shape == "histogram":
            point = metric.histogram.data_points.add()
            point.count = draw(UINT64)
            point.bucket_counts.extend(draw(st.lists(UINT64, max_size=3)))
            point.explicit_bounds.extend(draw(st.lists(st.floats(), max_size=3)))
            if draw(st.booleans()):
                point.sum = draw(st.floats())
        elif shape == "exp":
            point = metric.exponential_histogram.data_points.add()
            point.count = draw(UINT64)
            point.scale = draw(st.integers(-(2**31), 2**31 - 1))
        else:
            point = metric.summary.data_points.add()
            point.count = draw(UINT64)
        point.time_unix_nano = draw(UINT64)
        point.start_time_unix_nano = draw(UINT64)
        point.attributes.extend(draw(ATTRIBUTES))
    return request


#: (signal, request) pairs of structurally valid requests with hostile contents.
REQUESTS: dict[str, st.SearchStrategy[Message]] = {
    "logs": _logs(),
    "traces": _traces(),
    "metrics": _metrics(),
}


@st.composite
def _mutated(draw: st.DrawFn, data: bytes) -> bytes:
    out = bytearray(data)
    for _ in range(draw(st.integers(1, 4))):
        action = draw(st.sampled_from(["flip", "cut", "insert", "splice"]))
        at = draw(st.integers(0, len(out)))
        if action == "flip" and out:
            at = min(at, len(out) - 1)
            out[at] ^= draw(st.integers(1, 255))
        elif action == "cut":
            del out[at:]
        elif action == "insert":
            out[at:at] = draw(st.binary(min_size=1, max_size=16))
        else:
            out[at:at] = bytes(out[: draw(st.integers(0, 64))])
    return bytes(out)


def bodies(kind: str) -> st.SearchStrategy[bytes]:
    """Protobuf bodies for *kind*: valid, mutated, or random bytes."""
    valid = REQUESTS[kind].map(lambda message: message.SerializeToString())
    return st.one_of(valid, valid.flatmap(_mutated), st.binary(max_size=256))


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=8,
)


@st.composite
def _json_mutated(draw: st.DrawFn, message: Message) -> bytes:
    document: Any = json_format.MessageToDict(message)
    nodes = [document]
    while nodes:  # replace some leaves of the document with arbitrary JSON
        node = nodes.pop()
        children = node.items() if isinstance(node, dict) else enumerate(node)
        for key, child in list(children):
            if isinstance(child, (dict, list)):
                nodes.append(child)
            elif draw(st.integers(0, 5)) == 0:
                node[key] = draw(JSON_VALUES)
    return json.dumps(document).encode()


def json_bodies(kind: str) -> st.SearchStrategy[bytes]:
    """OTLP/JSON bodies for *kind*: valid, with arbitrary leaves, or arbitrary JSON/bytes."""
    valid = REQUESTS[kind].map(lambda m: json_format.MessageToJson(m).encode())
    return st.one_of(
        valid,
        REQUESTS[kind].flatmap(_json_mutated),
        JSON_VALUES.map(lambda v: json.dumps(v).encode()),
        st.binary(max_size=64),
    )
