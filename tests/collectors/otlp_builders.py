"""Build OTLP protobuf messages from plain Python values (test helpers, no collector code)."""

from __future__ import annotations

from typing import Any

from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
)
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.logs.v1.logs_pb2 import LogRecord
from opentelemetry.proto.metrics.v1.metrics_pb2 import Metric, NumberDataPoint
from opentelemetry.proto.trace.v1.trace_pb2 import Span, Status

from runlog import conventions as c


def any_value(value: Any) -> AnyValue:
    """An AnyValue holding *value* (bool before int: bool is an int)."""
    if isinstance(value, AnyValue):
        return value
    if isinstance(value, bool):
        return AnyValue(bool_value=value)
    if isinstance(value, int):
        return AnyValue(int_value=value)
    if isinstance(value, float):
        return AnyValue(double_value=value)
    if isinstance(value, bytes):
        return AnyValue(bytes_value=value)
    if isinstance(value, list):
        out = AnyValue()
        out.array_value.values.extend(any_value(v) for v in value)
        return out
    return AnyValue(string_value=value)


def kvs(attributes: dict[str, Any]) -> list[KeyValue]:
    """Attribute list from a dict."""
    return [KeyValue(key=k, value=any_value(v)) for k, v in attributes.items()]


def event(
    name: str | None, attributes: dict[str, Any] | None = None, time_ns: int = 0, observed: int = 0
) -> LogRecord:
    """A log record carrying event *name* (None: no event name)."""
    record = LogRecord(time_unix_nano=time_ns, observed_time_unix_nano=observed)
    if name:
        record.event_name = name
    record.attributes.extend(kvs(attributes or {}))
    return record


def metric(name: str, value: Any, step: Any = None, time_ns: Any = 1, **extra: Any) -> LogRecord:
    """A ``runlog.metric`` record."""
    attributes = {c.METRIC_NAME: name, c.METRIC_VALUE: value, **extra}
    if step is not None:
        attributes[c.METRIC_STEP] = step
    return event(c.EVENT_METRIC, attributes, time_ns)


def logs_request(
    *records: LogRecord, resource: dict[str, Any] | None = None
) -> ExportLogsServiceRequest:
    """A logs request with one resource (default: run ``r1``) holding *records*."""
    request = ExportLogsServiceRequest()
    resource_logs = request.resource_logs.add()
    attributes = {c.RUN_ID: "r1"} if resource is None else resource
    resource_logs.resource.attributes.extend(kvs(attributes))
    resource_logs.scope_logs.add().log_records.extend(records)
    return request


def span(
    name: str,
    trace_id: bytes = bytes(range(16)),
    parent: bytes = b"",
    error: str | None = None,
    attributes: dict[str, Any] | None = None,
) -> Span:
    """A span from t=10 to t=20."""
    out = Span(
        name=name,
        trace_id=trace_id,
        span_id=b"\x01" * 8,
        parent_span_id=parent,
        start_time_unix_nano=10,
        end_time_unix_nano=20,
    )
    if error is not None:
        out.status.code = Status.STATUS_CODE_ERROR
        out.status.message = error
    out.attributes.extend(kvs(attributes or {}))
    return out


def traces_request(*spans: Span, resource: dict[str, Any]) -> ExportTraceServiceRequest:
    """A trace request with one resource holding *spans*."""
    request = ExportTraceServiceRequest()
    resource_spans = request.resource_spans.add()
    resource_spans.resource.attributes.extend(kvs(resource))
    resource_spans.scope_spans.add().spans.extend(spans)
    return request


def gauge(name: str, *points: tuple[int, Any, dict[str, Any]]) -> Metric:
    """A gauge with (time, value, attributes) points."""
    out = Metric(name=name)
    for time_ns, value, attributes in points:
        point = NumberDataPoint(time_unix_nano=time_ns)
        if isinstance(value, int):
            point.as_int = value
        else:
            point.as_double = value
        point.attributes.extend(kvs(attributes))
        out.gauge.data_points.append(point)
    return out


def metrics_request(*metrics: Metric, resource: dict[str, Any]) -> ExportMetricsServiceRequest:
    """A metrics request with one resource holding *metrics*."""
    request = ExportMetricsServiceRequest()
    resource_metrics = request.resource_metrics.add()
    resource_metrics.resource.attributes.extend(kvs(resource))
    resource_metrics.scope_metrics.add().metrics.extend(metrics)
    return request
