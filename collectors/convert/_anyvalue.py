"""Small readers of OTLP `AnyValue` and attribute lists, shared by the converters.

Every function here is pure and cheap: the one-point-per-record path calls them for each
record, so they avoid building Python objects they do not need.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable
from typing import Any

from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue

from collectors.read.encoding import json_float
from runlog import conventions as c

#: AnyValue fields that carry a metric value, mapped to the dtype they make.
SCALAR_DTYPES = {
    "double_value": c.DTYPE_FLOAT,
    "int_value": c.DTYPE_INT,
    "bool_value": c.DTYPE_BOOL,
    "string_value": c.DTYPE_STR,
}

#: Prefixes of `service.name` that OTel SDKs fill in when the program set none.
_UNSET_SERVICE_PREFIX = "unknown_service"


def attributes(kvs: Iterable[KeyValue]) -> dict[str, AnyValue]:
    """Map attribute keys to their `AnyValue` (a later duplicate key wins)."""
    return {kv.key: kv.value for kv in kvs}


def to_python(value: AnyValue) -> Any:
    """Convert an `AnyValue` to the plain Python value it holds (None when empty)."""
    field = value.WhichOneof("value")
    if field is None:
        return None
    if field == "array_value":
        return [to_python(v) for v in value.array_value.values]
    if field == "kvlist_value":
        return {kv.key: to_python(kv.value) for kv in value.kvlist_value.values}
    return getattr(value, field)


def get_str(attrs: dict[str, AnyValue], key: str) -> str | None:
    """Return attribute *key* when it is a non-empty string AnyValue, else None."""
    value = attrs.get(key)
    if value is None or value.WhichOneof("value") != "string_value":
        return None
    return value.string_value or None


def pick_str(key: str, *layers: dict[str, AnyValue]) -> str | None:
    """Return the first string value of *key* found in *layers* (most specific first)."""
    for layer in layers:
        found = get_str(layer, key)
        if found is not None:
            return found
    return None


def service_name(resource: dict[str, AnyValue]) -> str | None:
    """Return the resource's `service.name`, ignoring the SDKs' ``unknown_service`` default."""
    name = get_str(resource, "service.name")
    if name is None or name.startswith(_UNSET_SERVICE_PREFIX):
        return None
    return name


def json_text(plain: Any) -> str:
    """Compact JSON of a plain value from `to_python`, valid even for what JSON lacks:
    bytes as hex, non-finite floats as the API's ``"NaN"`` / ``"Infinity"`` strings."""
    return json.dumps(_jsonable(plain), separators=(",", ":"), allow_nan=False)


def to_json(value: AnyValue) -> str:
    """`json_text` of the value an `AnyValue` holds."""
    return json_text(to_python(value))


def _jsonable(value: Any) -> Any:
    if isinstance(value, float):
        return json_float(value)
    if isinstance(value, bytes):
        return value.hex()
    if isinstance(value, list):
        return [_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    return value


def to_text(value: AnyValue) -> str:
    """Render a tag/param/property value as the string the store keeps.

    Strings stay as they are; numbers and booleans follow Python's ``str``; arrays and
    key-value lists become JSON.

    Raises:
        ValueError: the value is empty or bytes (no faithful text form).
    """
    field = value.WhichOneof("value")
    if field is None:
        raise ValueError("value is missing; set runlog.value to a string, number or bool")
    if field == "bytes_value":
        raise ValueError("value is bytes; send a string (e.g. hex or base64) instead")
    if field == "string_value":
        return value.string_value
    if field in ("array_value", "kvlist_value"):
        return to_json(value)
    return str(getattr(value, field))


def to_step(value: AnyValue) -> int:
    """Read a metric step: an int, or a double holding an integral finite number.

    Raises:
        ValueError: the step is non-finite, fractional, out of int64 range or not a number.
    """
    field = value.WhichOneof("value")
    if field == "int_value":
        return int(value.int_value)
    if field == "double_value":
        step = value.double_value
        if not math.isfinite(step):
            raise ValueError(f"non-finite step {step!r}; steps are integers")
        if not step.is_integer() or not c.INT64_MIN <= step <= c.INT64_MAX:
            raise ValueError(f"step {step!r} is not an int64 integer")
        return int(step)
    raise ValueError(f"step must be an int AnyValue, got {field or 'an empty value'}")
