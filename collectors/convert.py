"""Pure mapping of decoded OTLP requests onto store operations (no I/O, no clock).

`convert_logs` carries runlog's wire contract (`runlog.conventions`): log records whose event
name is one of the ``runlog.*`` events become `collectors.ops` operations; records that
cannot be used are counted as rejected with a reason, the rest of the request is kept.
`convert_traces` and `convert_metrics` map spans and OTel metrics (small for now).

Rules worth knowing:

- A record's run comes from its own attributes, then its resource's (``runlog.run.id``,
  ``runlog.experiment``, ``runlog.run.parent_id``, ``runlog.run.name``). The experiment
  defaults to the resource's ``service.name``, else ``Default``. An `EnsureRun` precedes the
  first operation on each run (and repeats when a record names a different identity).
- ``runlog.batch.id`` on any resource puts a `MarkBatch` first, so a replayed request is
  skipped as a whole.
- A metric point without a step gets the step ``INT64_MIN``, meaning "next": the store
  replaces such steps with last step + 1, + 2, … in order. A record that sends
  ``INT64_MIN`` as its own step (single or packed) is rejected: the value is reserved.
- Single points are grouped per (run, metric, column, kind) into one `AppendPoints` each,
  keeping their order (a dtype change starts a new group), so the one-record-per-point
  OTel path costs one array append per record rather than one operation.
- Log records that are not runlog events are ignored (neither kept nor rejected).
"""

from __future__ import annotations

from collections.abc import Iterable

from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
)
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.logs.v1.logs_pb2 import LogRecord
from opentelemetry.proto.metrics.v1.metrics_pb2 import Metric, NumberDataPoint
from opentelemetry.proto.trace.v1.trace_pb2 import Span, Status

from collectors import _anyvalue as av
from collectors._builder import Builder, Identity, Rejected
from collectors._events import EVENT_HANDLERS, Record
from collectors.ops import Converted, MarkBatch, SetStatus
from runlog import conventions as c

__all__ = ["RunResolver", "convert_logs", "convert_metrics", "convert_traces", "identity_of"]

_IDENTITY_KEYS = frozenset({c.RUN_ID, c.EXPERIMENT, c.PARENT_RUN_ID, c.RUN_NAME})


def convert_logs(request: ExportLogsServiceRequest, received_ns: int) -> Converted:
    """Map an OTLP logs request onto store operations.

    Args:
        request: the decoded request.
        received_ns: when the collector received it (Unix ns); the time of records that
            carry neither ``time_unix_nano`` nor ``observed_time_unix_nano``.

    Returns:
        The operations in apply order, plus the count and first reasons of rejected records.
    """
    builder = Builder()
    _mark_batches((rl.resource.attributes for rl in request.resource_logs), builder)
    for resource_logs in request.resource_logs:
        runs = RunResolver(av.attributes(resource_logs.resource.attributes))
        for scope_logs in resource_logs.scope_logs:
            for record in scope_logs.log_records:
                _convert_record(builder, record, runs, received_ns)
    return builder.finish()


def _mark_batches(resources: Iterable[Iterable[KeyValue]], builder: Builder) -> None:
    seen: set[str] = set()
    for kvs in resources:
        batch_id = av.get_str(av.attributes(kvs), c.BATCH_ID)
        if batch_id is not None and batch_id not in seen:
            seen.add(batch_id)
            builder.add(MarkBatch(batch_id))


def _event_name(record: LogRecord, attrs: dict[str, AnyValue]) -> str | None:
    if record.event_name:
        return record.event_name
    return av.get_str(attrs, c.EVENT_NAME_ATTRIBUTE)


def _record_time(record: LogRecord, received_ns: int) -> int:
    return record.time_unix_nano or record.observed_time_unix_nano or received_ns


def _convert_record(
    builder: Builder, record: LogRecord, runs: RunResolver, received_ns: int
) -> None:
    attrs = av.attributes(record.attributes)
    event = _event_name(record, attrs)
    handler = EVENT_HANDLERS.get(event) if event else None
    if handler is None:
        return  # not a runlog event: log lines are issue 3's business
    try:
        identity = runs.resolve(attrs)
        handler(builder, Record(attrs, identity, _record_time(record, received_ns)))
    except Rejected as exc:
        builder.out.reject(f"{event} record: {exc}")


class RunResolver:
    """Resolves the run of records under one resource.

    Most records name no run themselves; their identity is the resource's, computed once
    (which also lets `Builder.ensure` recognise it by identity).
    """

    def __init__(self, resource: dict[str, AnyValue]) -> None:
        self.resource = resource
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


def convert_traces(request: ExportTraceServiceRequest, received_ns: int) -> Converted:
    """Map spans onto runs.

    A span naming a run (``runlog.run.id`` on the span or its resource) makes sure the run
    exists. A root span naming none becomes a run of its own: experiment ``service.name``,
    run id the trace id in hex, status Completed or Failed from the span status.
    Other spans are ignored for now (the run timeline comes later).
    """
    builder = Builder()
    for resource_spans in request.resource_spans:
        runs = RunResolver(av.attributes(resource_spans.resource.attributes))
        for scope_spans in resource_spans.scope_spans:
            for span in scope_spans.spans:
                _convert_span(builder, span, runs, received_ns)
    return builder.finish()


def _convert_span(builder: Builder, span: Span, runs: RunResolver, received_ns: int) -> None:
    attrs = av.attributes(span.attributes)
    start_ns = span.start_time_unix_nano or received_ns
    try:
        if av.pick_str(c.RUN_ID, attrs, runs.resource) is not None:
            builder.ensure(runs.resolve(attrs), start_ns)
        elif not span.parent_span_id and len(span.trace_id) == 16:
            _span_run(builder, span, runs.default_experiment, start_ns, received_ns)
    except Rejected as exc:
        builder.out.reject(f"span {span.name!r}: {exc}")


def _span_run(
    builder: Builder, span: Span, experiment: str, start_ns: int, received_ns: int
) -> None:
    identity = Identity(span.trace_id.hex(), experiment, None, span.name[: c.MAX_NAME_LENGTH])
    builder.ensure(identity, start_ns)
    failed = span.status.code == Status.STATUS_CODE_ERROR
    status = c.STATUS_FAILED if failed else c.STATUS_COMPLETED
    error = (span.status.message or "span status error") if failed else None
    end_ns = span.end_time_unix_nano or received_ns
    builder.add(SetStatus(identity.run_id, status, end_ns, error))


# --- metrics ----------------------------------------------------------------------------------


def convert_metrics(request: ExportMetricsServiceRequest, received_ns: int) -> Converted:
    """Map OTel gauges and sums onto metric vectors of the run named by the resource.

    Data points get the "next" step (``INT64_MIN``) and their own time. Points with
    attributes go to a column named after them (``cpu=0,state=idle``), so differently
    labelled series do not mix. Resources without a run id are skipped; histograms and
    summaries are ignored for now.
    """
    builder = Builder()
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
    if field not in ("gauge", "sum"):
        return
    problem = c.check_name("metric name", metric.name)
    points = metric.gauge.data_points if field == "gauge" else metric.sum.data_points
    for point in points:
        if problem:
            builder.out.reject(f"metric {metric.name[:80]!r}: {problem}")
            continue
        _convert_data_point(builder, identity, metric.name, point, received_ns)


def _convert_data_point(
    builder: Builder, identity: Identity, name: str, point: NumberDataPoint, received_ns: int
) -> None:
    column = _column_of(point.attributes)
    if len(column) > c.MAX_NAME_LENGTH:
        builder.out.reject(f"metric {name!r}: attribute set too long for a column: {column[:80]}")
        return
    time_ns = point.time_unix_nano or point.start_time_unix_nano or received_ns
    if point.WhichOneof("value") == "as_int":
        value: int | float = point.as_int
        dtype = c.DTYPE_INT
    else:
        value, dtype = point.as_double, c.DTYPE_FLOAT
    builder.ensure(identity, time_ns)
    builder.add_point(
        identity.run_id, name, column, c.KIND_SCALAR, dtype, c.INT64_MIN, time_ns, value
    )


def _column_of(kvs: Iterable[KeyValue]) -> str:
    pairs = sorted(((kv.key, av.to_python(kv.value)) for kv in kvs), key=lambda kv: kv[0])
    return ",".join(f"{key}={value}" for key, value in pairs)
