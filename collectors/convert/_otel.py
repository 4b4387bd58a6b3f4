"""Pure helpers for OTel spans and histograms, used by `collectors.convert`.

A span becomes a `SpanRecord` (hex ids, kind and status without their enum prefixes,
attributes as JSON). A histogram data point becomes one point in each of the columns
``count``, ``sum``, ``min``, ``max`` (and ``buckets``, a JSON string
``{"bounds": [...], "counts": [...]}``, for explicit-bucket histograms) of a metric of kind
``histogram``; a point with attributes writes to ``count{k=v,…}`` and so on, so differently
labelled series do not mix. Missing optional fields (sum, min, max) are NaN, so every column
of a histogram keeps the same steps.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable
from typing import Any, Final

from opentelemetry.proto.common.v1.common_pb2 import KeyValue
from opentelemetry.proto.metrics.v1.metrics_pb2 import (
    ExponentialHistogramDataPoint,
    HistogramDataPoint,
)
from opentelemetry.proto.trace.v1.trace_pb2 import Span, Status

from collectors.convert import _anyvalue as av
from collectors.convert._builder import Rejected, time_of
from collectors.ops import SpanRecord
from runlog import conventions as c

KIND_HISTOGRAM: Final = c.KIND_HISTOGRAM
_NAN: Final = math.nan

#: One histogram point as (column, dtype, value) triples.
HistogramColumns = list[tuple[str, str, Any]]


def span_record(span: Span, received_ns: int) -> SpanRecord:
    """The timeline entry of *span*.

    Raises:
        Rejected: the trace id is not 16 bytes or the span id not 8, or a time is past int64.
    """
    if len(span.trace_id) != 16 or len(span.span_id) != 8:
        raise Rejected(
            f"trace id of {len(span.trace_id)} bytes / span id of {len(span.span_id)} "
            "bytes; expected 16 and 8"
        )
    start_ns = time_of(span.start_time_unix_nano, received_ns)
    return SpanRecord(
        trace_id=span.trace_id.hex(),
        span_id=span.span_id.hex(),
        parent_span_id=span.parent_span_id.hex() or None,
        name=span.name,
        kind=_enum_name(Span.SpanKind, span.kind, "SPAN_KIND_"),
        start_ns=start_ns,
        end_ns=time_of(span.end_time_unix_nano, start_ns),
        status_code=_enum_name(Status.StatusCode, span.status.code, "STATUS_CODE_"),
        status_message=span.status.message,
        attributes_json=attributes_json(span.attributes),
    )


def _enum_name(enum: Any, number: int, prefix: str) -> str:
    """The name of an enum value without its prefix; ``UNSPECIFIED``/``UNSET`` for a number
    the enum does not define (a newer producer's, or a fuzzer's)."""
    try:
        return str(enum.Name(number)).removeprefix(prefix)
    except ValueError:
        return str(enum.Name(0)).removeprefix(prefix)


def attributes_json(kvs: Iterable[KeyValue]) -> str:
    """Attributes as a JSON object (bytes as hex; a later duplicate key wins)."""
    return av.json_text({kv.key: av.to_python(kv.value) for kv in kvs})


def column_of(kvs: Iterable[KeyValue]) -> str:
    """A point's attributes as a column name, ``k=v,k=v`` sorted by key (``''`` if none)."""
    pairs = sorted(((kv.key, av.to_python(kv.value)) for kv in kvs), key=lambda kv: kv[0])
    return ",".join(f"{key}={value}" for key, value in pairs)


def histogram_columns(
    point: HistogramDataPoint | ExponentialHistogramDataPoint,
) -> HistogramColumns:
    """The (column, dtype, value) points one histogram data point makes.

    Raises:
        Rejected: the count does not fit an int64.
    """
    labels = column_of(point.attributes)
    if point.count > c.INT64_MAX:
        raise Rejected(f"count {point.count} is past the int64 range")
    values: HistogramColumns = [
        ("count", c.DTYPE_INT, int(point.count)),
        ("sum", c.DTYPE_FLOAT, point.sum if point.HasField("sum") else _NAN),
        ("min", c.DTYPE_FLOAT, point.min if point.HasField("min") else _NAN),
        ("max", c.DTYPE_FLOAT, point.max if point.HasField("max") else _NAN),
    ]
    if isinstance(point, HistogramDataPoint):
        buckets = {"bounds": list(point.explicit_bounds), "counts": list(point.bucket_counts)}
        values.append(("buckets", c.DTYPE_STR, json.dumps(buckets, separators=(",", ":"))))
    if labels:
        values = [(f"{column}{{{labels}}}", dtype, value) for column, dtype, value in values]
    return values
