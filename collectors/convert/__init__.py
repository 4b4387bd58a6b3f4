"""Pure mapping of decoded OTLP requests onto store operations (no I/O, no clock).

`convert_logs` carries runlog's wire contract (`runlog.conventions`): log records whose event
name is one of the ``runlog.*`` events become `collectors.ops` operations; records that
cannot be used are counted as rejected with a reason, the rest of the request is kept.
`convert_traces` and `convert_metrics` map spans and OTel metrics.

Rules worth knowing:

- A record's run comes from its own attributes, then its resource's (``runlog.run.id``,
  ``runlog.experiment``, ``runlog.run.parent_id``, ``runlog.run.name``). The experiment
  defaults to the resource's ``service.name``, else ``Default``. An `EnsureRun` precedes the
  first operation on each run (and repeats when a record names a different identity).
- ``runlog.batch.id`` on any resource puts a `MarkBatch` (with the request's digest) first,
  so a replayed request is skipped as a whole and a reused id with other content refused.
- A metric point without a step gets the step ``INT64_MIN``, meaning "next": the store
  replaces such steps with last step + 1, + 2, … in order. A record that sends
  ``INT64_MIN`` as its own step (single or packed) is rejected: the value is reserved.
- Single points are grouped per (run, metric, column, kind) into one `AppendPoints` each,
  keeping their order (a dtype change starts a new group), so the one-record-per-point
  OTel path costs one array append per record rather than one operation.
- Log records that are not runlog events are log lines of their run (`collectors.convert._lines`),
  buffered per run into one `AppendLogLines`; records of no run are ignored (neither kept
  nor rejected), and so are unknown ``runlog.*`` events (a newer producer's).
- Spans of a run become its timeline (`AppendSpans`); see `convert_traces`.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import xxhash
from google.protobuf.message import Message
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
)
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue
from opentelemetry.proto.logs.v1.logs_pb2 import LogRecord
from opentelemetry.proto.metrics.v1.metrics_pb2 import (
    ExponentialHistogramDataPoint,
    HistogramDataPoint,
    Metric,
    NumberDataPoint,
)
from opentelemetry.proto.trace.v1.trace_pb2 import ScopeSpans, Span, Status

from collectors.convert import _anyvalue as av
from collectors.convert._builder import Builder, Identity, Rejected, time_of
from collectors.convert._events import EVENT_HANDLERS, Record
from collectors.convert._lines import log_line, min_level_number
from collectors.convert._otel import column_of, histogram_columns, span_record
from collectors.ops import Converted, MarkBatch, SetStatus
from runlog import conventions as c

__all__ = [
    "RunResolver",
    "batch_digest",
    "convert_logs",
    "convert_metrics",
    "convert_traces",
    "identity_of",
    "min_level_number",
]

_IDENTITY_KEYS = frozenset({c.RUN_ID, c.EXPERIMENT, c.PARENT_RUN_ID, c.RUN_NAME})
_RUNLOG_PREFIX = "runlog."


def convert_logs(
    request: ExportLogsServiceRequest, received_ns: int, body: bytes | None = None
) -> Converted:
    """Map an OTLP logs request onto store operations.

    Args:
        request: the decoded request.
        received_ns: when the collector received it (Unix ns); the time of records that
            carry neither ``time_unix_nano`` nor ``observed_time_unix_nano``.
        body: the request as received (decompressed), when at hand: the digest that goes
            with a batch id is taken of it (else of the request serialised again).

    Returns:
        The operations in apply order, plus the count and first reasons of rejected records.
    """
    builder = Builder()
    _mark_batches(request, request.resource_logs, body, builder)
    for resource_logs in request.resource_logs:
        runs = RunResolver(av.attributes(resource_logs.resource.attributes))
        for scope_logs in resource_logs.scope_logs:
            scope = scope_logs.scope.name
            for record in scope_logs.log_records:
                _convert_record(builder, record, runs, received_ns, scope)
    return builder.finish()


def batch_digest(content: bytes) -> str:
    """The digest stored with a batch id: XXH3-128 in hex. Not cryptographic (nobody gains
    by forging a collision with their own batch), but fast: SHA-256 of every request cost
    about a tenth of the packed ingest rate, this a fiftieth."""
    return str(xxhash.xxh3_128_hexdigest(content))


def _mark_batches(
    request: Message, resources: Iterable[Any], body: bytes | None, builder: Builder
) -> None:
    """A `MarkBatch` per batch id on the request's resources, with the request's digest."""
    batch_ids: dict[str, None] = {}
    for resource in resources:
        batch_id = av.get_str(av.attributes(resource.resource.attributes), c.BATCH_ID)
        if batch_id is not None:
            batch_ids[batch_id] = None
    if batch_ids:
        content = body if body is not None else request.SerializeToString()
        digest = batch_digest(content)
        for batch_id in batch_ids:
            builder.add(MarkBatch(batch_id, digest))


def _event_name(record: LogRecord, attrs: dict[str, AnyValue]) -> str | None:
    if record.event_name:
        return record.event_name
    return av.get_str(attrs, c.EVENT_NAME_ATTRIBUTE)


def _record_time(record: LogRecord, received_ns: int) -> int:
    return time_of(record.time_unix_nano, record.observed_time_unix_nano, received_ns)


def _convert_record(
    builder: Builder, record: LogRecord, runs: RunResolver, received_ns: int, scope: str
) -> None:
    attrs = av.attributes(record.attributes)
    event = _event_name(record, attrs)
    handler = EVENT_HANDLERS.get(event) if event else None
    if handler is None:
        if not (event and event.startswith(_RUNLOG_PREFIX)):
            _convert_line(builder, record, attrs, runs, received_ns, scope)
        return
    try:
        identity = runs.resolve(attrs)
        handler(builder, Record(attrs, identity, _record_time(record, received_ns)))
    except Rejected as exc:
        builder.out.reject(f"{event} record: {exc}")


def _convert_line(
    builder: Builder,
    record: LogRecord,
    attrs: dict[str, AnyValue],
    runs: RunResolver,
    received_ns: int,
    scope: str,
) -> None:
    """A record that is no runlog event: a log line of its run, if it names one."""
    if not runs.has_run_id and av.get_str(attrs, c.RUN_ID) is None:
        return  # plain OTel logs of no run: not ours to keep, nothing wrong with them
    try:
        identity = runs.resolve(attrs)
        time_ns = _record_time(record, received_ns)
    except Rejected as exc:
        builder.out.reject(f"log record: {exc}")
        return
    builder.ensure(identity, time_ns)
    builder.add_log_line(identity.run_id, log_line(record, attrs, scope, time_ns))


class RunResolver:
    """Resolves the run of records under one resource.

    Most records name no run themselves; their identity is the resource's, computed once
    (which also lets `Builder.ensure` recognise it by identity).
    """

    def __init__(self, resource: dict[str, AnyValue]) -> None:
        self.resource = resource
        self.has_run_id = av.get_str(resource, c.RUN_ID) is not None
        self.default_experiment = av.service_name(resource) or c.DEFAULT_EXPERIMENT
        self._shared: Identity | str | None = None  # the resource's identity, or why not

    def resolve(self, attrs: dict[str, AnyValue]) -> Identity:
        """The run of a record with attributes *attrs*; raises `Rejected`."""
        if not _IDENTITY_KEYS.isdisjoint(attrs):
            return identity_of(attrs, self.resource, self.default_experiment)
        if self._shared is None:
            try:
                self._shared = identity_of({}, self.resource, self.default_experiment)
            except Rejected as exc:
                self._shared = str(exc)
        if isinstance(self._shared, str):
            raise Rejected(self._shared)
        return self._shared


def identity_of(
    attrs: dict[str, AnyValue], resource: dict[str, AnyValue], default_experiment: str
) -> Identity:
    """Resolve which run a record belongs to: record attributes first, then the resource.

    Raises:
        Rejected: the run id is missing or invalid, or the experiment name is invalid.
    """
    run_id = av.pick_str(c.RUN_ID, attrs, resource)
    if run_id is None:
        raise Rejected(f"no {c.RUN_ID} attribute on the record or its resource; set it")
    if not c.is_valid_run_id(run_id):
        raise Rejected(f"invalid {c.RUN_ID} {run_id[:80]!r}: expected 1-64 of [A-Za-z0-9_.-]")
    experiment = av.pick_str(c.EXPERIMENT, attrs, resource) or default_experiment
    problem = c.check_name("experiment name", experiment)
    if problem:
        raise Rejected(problem)
    parent_id = av.pick_str(c.PARENT_RUN_ID, attrs, resource)
    if parent_id is not None and not c.is_valid_run_id(parent_id):
        raise Rejected(f"invalid {c.PARENT_RUN_ID} {parent_id[:80]!r}")
    name = av.pick_str(c.RUN_NAME, attrs, resource)
    return Identity(run_id, experiment, parent_id, name[: c.MAX_NAME_LENGTH] if name else None)


# --- traces ---------------------------------------------------------------------------------


def convert_traces(
    request: ExportTraceServiceRequest, received_ns: int, body: bytes | None = None
) -> Converted:
    """Map spans onto runs' timelines.

    A span naming a run (``runlog.run.id`` on the span or its resource) is kept as part of
    that run's timeline (`AppendSpans`). A root span naming none becomes a run of its own:
    experiment ``service.name``, run id the trace id in hex, status Completed or Failed from
    the span status; it is kept in that run's timeline, with the spans of its trace that come
    in the same request. Other spans without a run are ignored. *body* as in `convert_logs`.
    """
    builder = Builder()
    _mark_batches(request, request.resource_spans, body, builder)
    for resource_spans in request.resource_spans:
        runs = RunResolver(av.attributes(resource_spans.resource.attributes))
        roots = _orphan_roots(resource_spans.scope_spans, runs, received_ns, builder)
        for scope_spans in resource_spans.scope_spans:
            for span in scope_spans.spans:
                _convert_span(builder, span, runs, received_ns, roots)
    return builder.finish()


def _orphan_roots(
    scopes: Iterable[ScopeSpans], runs: RunResolver, received_ns: int, builder: Builder
) -> dict[bytes, tuple[Identity, int]]:
    """The runs (and their start times) made by root spans without a run id, by trace id."""
    roots: dict[bytes, tuple[Identity, int]] = {}
    if av.get_str(runs.resource, c.RUN_ID) is not None:
        return roots
    for span in (span for scope_spans in scopes for span in scope_spans.spans):
        if (
            not span.parent_span_id
            and len(span.trace_id) == 16
            and av.get_str(av.attributes(span.attributes), c.RUN_ID) is None
        ):
            try:
                start_ns = time_of(span.start_time_unix_nano, received_ns)
            except Rejected as exc:
                builder.out.reject(f"span {span.name!r}: {exc}")  # and its trace is ignored
                continue
            name = span.name[: c.MAX_NAME_LENGTH]
            identity = Identity(span.trace_id.hex(), runs.default_experiment, None, name)
            roots[span.trace_id] = (identity, start_ns)
    return roots


def _convert_span(
    builder: Builder,
    span: Span,
    runs: RunResolver,
    received_ns: int,
    roots: dict[bytes, tuple[Identity, int]],
) -> None:
    attrs = av.attributes(span.attributes)
    try:
        root = None
        if av.pick_str(c.RUN_ID, attrs, runs.resource) is not None:
            identity = runs.resolve(attrs)
        elif span.trace_id in roots:
            identity, root = roots[span.trace_id]
        else:
            return
        record = span_record(span, received_ns)
        builder.ensure(identity, record.start_ns if root is None else root)
        builder.add_span(identity.run_id, record)
        if span.trace_id in roots and not span.parent_span_id:
            _end_span_run(builder, span, identity.run_id, record.end_ns)
    except Rejected as exc:
        builder.out.reject(f"span {span.name!r}: {exc}")


def _end_span_run(builder: Builder, span: Span, run_id: str, end_ns: int) -> None:
    failed = span.status.code == Status.STATUS_CODE_ERROR
    status = c.STATUS_FAILED if failed else c.STATUS_COMPLETED
    error = (span.status.message or "span status error") if failed else None
    builder.add(SetStatus(run_id, status, end_ns, error))


# --- metrics ----------------------------------------------------------------------------------


def convert_metrics(
    request: ExportMetricsServiceRequest, received_ns: int, body: bytes | None = None
) -> Converted:
    """Map OTel gauges and sums onto metric vectors of the run named by the resource.

    Data points get the "next" step (``INT64_MIN``) and their own time. Points with
    attributes go to a column named after them (``cpu=0,state=idle``), so differently
    labelled series do not mix. Histograms (explicit and exponential) become metrics of kind
    ``histogram`` (see `collectors.convert._otel`). Resources without a run id are skipped;
    summaries are ignored. *body* as in `convert_logs`.
    """
    builder = Builder()
    _mark_batches(request, request.resource_metrics, body, builder)
    for resource_metrics in request.resource_metrics:
        resource = av.attributes(resource_metrics.resource.attributes)
        if av.get_str(resource, c.RUN_ID) is None:
            continue
        try:
            identity = RunResolver(resource).resolve({})
        except Rejected as exc:
            builder.out.reject(f"metrics resource: {exc}")
            continue
        for scope_metrics in resource_metrics.scope_metrics:
            for metric in scope_metrics.metrics:
                _convert_metric(builder, identity, metric, received_ns)
    return builder.finish()


def _convert_metric(builder: Builder, identity: Identity, metric: Metric, received_ns: int) -> None:
    field = metric.WhichOneof("data")
    points: Iterable[Any]
    if field in ("gauge", "sum"):
        points = metric.gauge.data_points if field == "gauge" else metric.sum.data_points
        convert_point: Any = _convert_data_point
    elif field in ("histogram", "exponential_histogram"):
        histogram = metric.histogram if field == "histogram" else metric.exponential_histogram
        points, convert_point = histogram.data_points, _convert_histogram_point
    else:
        return  # summaries: a legacy shape no current SDK produces
    problem = c.check_name("metric name", metric.name)
    for point in points:
        if problem:
            builder.out.reject(f"metric {metric.name[:80]!r}: {problem}")
            continue
        convert_point(builder, identity, metric.name, point, received_ns)


def _convert_histogram_point(
    builder: Builder,
    identity: Identity,
    name: str,
    point: HistogramDataPoint | ExponentialHistogramDataPoint,
    received_ns: int,
) -> None:
    try:
        columns = histogram_columns(point)
        time_ns = time_of(point.time_unix_nano, point.start_time_unix_nano, received_ns)
    except Rejected as exc:
        builder.out.reject(f"metric {name!r}: {exc}")
        return
    if any(len(column) > c.MAX_NAME_LENGTH for column, _, _ in columns):
        builder.out.reject(f"metric {name!r}: attribute set too long for a column")
        return
    builder.ensure(identity, time_ns)
    for column, dtype, value in columns:
        builder.add_point(
            identity.run_id, name, column, c.KIND_HISTOGRAM, dtype, c.INT64_MIN, time_ns, value
        )


def _convert_data_point(
    builder: Builder, identity: Identity, name: str, point: NumberDataPoint, received_ns: int
) -> None:
    column = column_of(point.attributes)
    if len(column) > c.MAX_NAME_LENGTH:
        builder.out.reject(f"metric {name!r}: attribute set too long for a column: {column[:80]}")
        return
    try:
        time_ns = time_of(point.time_unix_nano, point.start_time_unix_nano, received_ns)
    except Rejected as exc:
        builder.out.reject(f"metric {name!r}: {exc}")
        return
    if point.WhichOneof("value") == "as_int":
        value: int | float = point.as_int
        dtype = c.DTYPE_INT
    else:
        value, dtype = point.as_double, c.DTYPE_FLOAT
    builder.ensure(identity, time_ns)
    builder.add_point(
        identity.run_id, name, column, c.KIND_SCALAR, dtype, c.INT64_MIN, time_ns, value
    )
