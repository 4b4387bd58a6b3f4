"""One handler per runlog event: validate a log record's attributes, emit its operations.

Handlers raise `Rejected` with a reason before emitting anything, so a rejected record
leaves no trace (not even an `EnsureRun`).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
from opentelemetry.proto.common.v1.common_pb2 import AnyValue

from collectors.convert import _anyvalue as av
from collectors.convert._builder import Builder, Identity, Rejected
from collectors.ops import (
    AppendPoints,
    Heartbeat,
    RecordFile,
    SetParam,
    SetProperty,
    SetStatus,
    SetTag,
)
from runlog import conventions as c

_SHA256_HEX = re.compile(r"[0-9a-f]{64}")
_PACKED_VALUE_DTYPES = {c.DTYPE_FLOAT: "<f8", c.DTYPE_INT: "<i8", c.DTYPE_BOOL: "u1"}
_ERROR_SUFFIX = "… (truncated)"
_RESERVED_STEP = (
    f"step {c.INT64_MIN} is reserved: it stands for the metric's last step + 1, which a "
    f"{c.EVENT_METRIC} record asks for by leaving out {c.METRIC_STEP}; send a larger step"
)


@dataclass(frozen=True, slots=True)
class Record:
    """A log record that carries a runlog event, with its run and time resolved."""

    attrs: dict[str, AnyValue]
    identity: Identity
    time_ns: int


Handler = Callable[[Builder, Record], None]


def _checked_name(what: str, value: str | None) -> str:
    if value is None:
        raise Rejected(f"{what} is missing or not a non-empty string")
    problem = c.check_name(what, value)
    if problem:
        raise Rejected(problem)
    return value


def _series(builder: Builder, attrs: dict[str, AnyValue]) -> tuple[str, str, str]:
    """Return (name, column, kind) of a metric record, validated (cached per request)."""
    raw = (
        av.get_str(attrs, c.METRIC_NAME),
        av.get_str(attrs, c.METRIC_COLUMN),
        av.get_str(attrs, c.METRIC_KIND),
    )
    found = builder.series_cache.get(raw)
    if found is None:
        found = builder.series_cache[raw] = _check_series(*raw)
    return found


def _check_series(name: str | None, column: str | None, kind: str | None) -> tuple[str, str, str]:
    name = _checked_name("metric name", name)
    kind = kind or c.KIND_SCALAR
    if kind not in c.KINDS:
        raise Rejected(f"unknown metric kind {kind[:40]!r}; expected one of {sorted(c.KINDS)}")
    if column:
        _checked_name("metric column", column)
    return name, column or "", kind


def _point_value(value: AnyValue | None) -> tuple[str, Any]:
    field = value.WhichOneof("value") if value is not None else None
    dtype = av.SCALAR_DTYPES.get(field or "")
    if value is None or dtype is None:
        got = field or "nothing"
        raise Rejected(f"{c.METRIC_VALUE} must be a double, int, bool or string, got {got}")
    scalar = getattr(value, field or "")
    if dtype == c.DTYPE_STR and len(scalar) > c.MAX_VALUE_LENGTH:
        raise Rejected(f"string value is {len(scalar)} characters; limit {c.MAX_VALUE_LENGTH}")
    return dtype, scalar


def on_metric(builder: Builder, record: Record) -> None:
    """``runlog.metric``: one point (name, value, optional step)."""
    name, column, kind = _series(builder, record.attrs)
    dtype, value = _point_value(record.attrs.get(c.METRIC_VALUE))
    step_value = record.attrs.get(c.METRIC_STEP)
    try:
        step = c.INT64_MIN if step_value is None else av.to_step(step_value)
    except ValueError as exc:
        raise Rejected(str(exc)) from None
    if step_value is not None and step == c.INT64_MIN:
        raise Rejected(_RESERVED_STEP)
    run_id = record.identity.run_id
    builder.ensure(record.identity, record.time_ns)
    builder.add_point(run_id, name, column, kind, dtype, step, record.time_ns, value)


def _int64_array(attrs: dict[str, AnyValue], key: str) -> npt.NDArray[np.int64]:
    value = attrs.get(key)
    if value is None or value.WhichOneof("value") != "bytes_value":
        raise Rejected(f"{key} must be bytes of little-endian int64")
    if len(value.bytes_value) % 8:
        raise Rejected(f"{key} is {len(value.bytes_value)} bytes, not a multiple of 8")
    return np.frombuffer(value.bytes_value, dtype="<i8").astype(np.int64, copy=False)


def _packed_values(attrs: dict[str, AnyValue], dtype: str) -> npt.NDArray[Any] | list[str]:
    value = attrs.get(c.METRIC_VALUES)
    field = value.WhichOneof("value") if value is not None else None
    if value is None or field is None:
        raise Rejected(f"{c.METRIC_VALUES} is missing")
    if dtype == c.DTYPE_STR:
        return _packed_strings(value)
    if field != "bytes_value":
        raise Rejected(f"{c.METRIC_VALUES} must be bytes for dtype {dtype}, got {field}")
    raw = value.bytes_value
    width = 1 if dtype == c.DTYPE_BOOL else 8
    if len(raw) % width:
        raise Rejected(f"{c.METRIC_VALUES} is {len(raw)} bytes, not a multiple of {width}")
    array = np.frombuffer(raw, dtype=_PACKED_VALUE_DTYPES[dtype])
    if dtype != c.DTYPE_BOOL:
        return array.astype(array.dtype.newbyteorder("="), copy=False)
    if array.size and array.max() > 1:
        raise Rejected(f"bool {c.METRIC_VALUES} must be bytes 0 or 1")
    return array.view(np.bool_)


def _packed_strings(value: AnyValue) -> list[str]:
    if value.WhichOneof("value") != "array_value":
        raise Rejected(f"{c.METRIC_VALUES} must be an array of strings for dtype str")
    out: list[str] = []
    for item in value.array_value.values:
        if item.WhichOneof("value") != "string_value":
            raise Rejected(f"{c.METRIC_VALUES} of dtype str holds a non-string value")
        if len(item.string_value) > c.MAX_VALUE_LENGTH:
            raise Rejected(f"a string value is longer than {c.MAX_VALUE_LENGTH} characters")
        out.append(item.string_value)
    return out


def on_metric_packed(builder: Builder, record: Record) -> None:
    """``runlog.metric.packed``: many points of one series as little-endian arrays."""
    name, column, kind = _series(builder, record.attrs)
    dtype = av.get_str(record.attrs, c.METRIC_DTYPE)
    if dtype not in c.DTYPES:
        raise Rejected(f"unknown {c.METRIC_DTYPE} {dtype!r}; expected one of {sorted(c.DTYPES)}")
    steps = _int64_array(record.attrs, c.METRIC_STEPS)
    times = _int64_array(record.attrs, c.METRIC_TIMESTAMPS)
    values = _packed_values(record.attrs, dtype)
    if not len(steps) == len(times) == len(values):
        counts = f"{len(steps)} steps, {len(times)} timestamps, {len(values)} values"
        raise Rejected(f"packed arrays differ in length: {counts}")
    if (steps == c.INT64_MIN).any():
        raise Rejected(_RESERVED_STEP)
    if times.size and not times.all():
        times = np.where(times == 0, np.int64(record.time_ns), times)
    run_id = record.identity.run_id
    builder.ensure(record.identity, record.time_ns)
    op = AppendPoints(run_id, name, kind, dtype, steps, times, values, column)
    builder.add_series_op((run_id, name, column, kind), op)


def _status(attrs: dict[str, AnyValue], default: str | None, allowed: frozenset[str]) -> str:
    status = av.get_str(attrs, c.STATUS) or default
    if status not in allowed:
        raise Rejected(f"{c.STATUS} {status!r} is not one of {sorted(allowed)}")
    return status


def _error_text(attrs: dict[str, AnyValue]) -> str | None:
    value = attrs.get(c.ERROR)
    if value is None or value.WhichOneof("value") is None:
        return None
    try:
        text = av.to_text(value)
    except ValueError:
        return "(error text was not a string)"
    if len(text) > c.MAX_VALUE_LENGTH:
        text = text[: c.MAX_VALUE_LENGTH - len(_ERROR_SUFFIX)] + _ERROR_SUFFIX
    return text or None


def on_run_start(builder: Builder, record: Record) -> None:
    """``runlog.run.start``: the run exists and is Running."""
    builder.ensure(record.identity, record.time_ns)
    builder.add(SetStatus(record.identity.run_id, c.STATUS_RUNNING, record.time_ns))


def on_run_status(builder: Builder, record: Record) -> None:
    """``runlog.run.status``: any status change (``runlog.run.status`` is required)."""
    status = _status(record.attrs, None, c.STATUSES)
    error = _error_text(record.attrs)
    builder.ensure(record.identity, record.time_ns)
    builder.add(SetStatus(record.identity.run_id, status, record.time_ns, error))


def on_run_end(builder: Builder, record: Record) -> None:
    """``runlog.run.end``: a terminal status (default Completed) and optional error."""
    status = _status(record.attrs, c.STATUS_COMPLETED, c.TERMINAL_STATUSES)
    error = _error_text(record.attrs)
    builder.ensure(record.identity, record.time_ns)
    builder.add(SetStatus(record.identity.run_id, status, record.time_ns, error))


def on_run_heartbeat(builder: Builder, record: Record) -> None:
    """``runlog.run.heartbeat``: the run's process is alive; watch the run for silence."""
    builder.ensure(record.identity, record.time_ns)
    builder.add(Heartbeat(record.identity.run_id))


def on_file(builder: Builder, record: Record) -> None:
    """``runlog.file``: a file the producer uploaded (path, size, SHA-256)."""
    path = av.get_str(record.attrs, c.FILE_PATH) or ""
    problem = c.check_file_path(path)
    if problem is not None:
        raise Rejected(f"{c.FILE_PATH} {path[:80]!r}: {problem}")
    size = record.attrs.get(c.FILE_SIZE)
    if size is None or size.WhichOneof("value") != "int_value" or size.int_value < 0:
        raise Rejected(f"{c.FILE_SIZE} must be a non-negative int (bytes)")
    digest = av.get_str(record.attrs, c.FILE_SHA256)
    if digest is None or not _SHA256_HEX.fullmatch(digest):
        raise Rejected(f"{c.FILE_SHA256} must be 64 lowercase hex digits")
    identity = record.identity
    builder.ensure(identity, record.time_ns)
    op = RecordFile(
        identity.run_id, identity.experiment, path, size.int_value, digest, record.time_ns, False
    )
    builder.add(op)


def _key_value(attrs: dict[str, AnyValue], what: str) -> tuple[str, str]:
    key = _checked_name(f"{what} key", av.get_str(attrs, c.KEY))
    value = attrs.get(c.VALUE)
    try:
        text = av.to_text(value if value is not None else AnyValue())
    except ValueError as exc:
        raise Rejected(f"{what} {key!r}: {exc}") from None
    if len(text) > c.MAX_VALUE_LENGTH:
        raise Rejected(
            f"{what} {key!r} value is {len(text)} characters; limit {c.MAX_VALUE_LENGTH}"
        )
    return key, text


def _key_value_handler(what: str, op_type: type[SetTag | SetParam | SetProperty]) -> Handler:
    def handle(builder: Builder, record: Record) -> None:
        key, value = _key_value(record.attrs, what)
        builder.ensure(record.identity, record.time_ns)
        builder.out.ops.append(op_type(record.identity.run_id, key, value))

    handle.__doc__ = f"``runlog.{what}``: set {what} ``runlog.key`` to ``runlog.value``."
    return handle


EVENT_HANDLERS: dict[str, Handler] = {
    c.EVENT_METRIC: on_metric,
    c.EVENT_METRIC_PACKED: on_metric_packed,
    c.EVENT_RUN_START: on_run_start,
    c.EVENT_RUN_STATUS: on_run_status,
    c.EVENT_RUN_END: on_run_end,
    c.EVENT_RUN_HEARTBEAT: on_run_heartbeat,
    c.EVENT_FILE: on_file,
    c.EVENT_TAG: _key_value_handler("tag", SetTag),
    c.EVENT_PARAM: _key_value_handler("param", SetParam),
    c.EVENT_PROPERTY: _key_value_handler("property", SetProperty),
}
