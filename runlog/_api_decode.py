"""Pure decoders for the query API's answers (JSON values, binary vectors, get_metrics shapes).

Nothing here does I/O, so every rule is tested with a table. numpy is not a client
dependency: binary vectors are read with the standard library's `array` module.
"""

from __future__ import annotations

import math
import sys
from array import array
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from runlog import conventions as c
from runlog.exceptions import InvalidArgumentError

DTYPE_MIXED = "mixed"
_NON_FINITE = {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}
_ARRAY_CODES = {c.DTYPE_FLOAT: "d", c.DTYPE_INT: "q", c.DTYPE_BOOL: "B"}
_ITEM_SIZES = {c.DTYPE_FLOAT: 8, c.DTYPE_INT: 8, c.DTYPE_BOOL: 1}


@dataclass(frozen=True, slots=True)
class Series:
    """One metric column: parallel lists of steps, timestamps (Unix ns) and values.

    ``downsampled`` is true when the collector reduced the vector (``max_points``).
    """

    name: str
    column: str
    kind: str
    dtype: str
    steps: list[int] = field(default_factory=list)
    timestamps: list[int] = field(default_factory=list)
    values: list[Any] = field(default_factory=list)
    downsampled: bool = False

    def __len__(self) -> int:
        return len(self.values)


def decode_value(value: Any, dtype: str) -> Any:
    """Turn one JSON value into its Python value, given the dtype the collector reported.

    In an ``f8`` vector the strings ``"NaN"``, ``"Infinity"`` and ``"-Infinity"`` are floats.
    """
    if dtype == c.DTYPE_FLOAT:
        if isinstance(value, str):
            return _NON_FINITE.get(value, value)
        return float(value) if isinstance(value, int) and not isinstance(value, bool) else value
    if dtype == c.DTYPE_BOOL and isinstance(value, int):
        return bool(value)
    return value


def decode_values(
    values: Sequence[Any], dtype: str, dtypes: Sequence[str] | None = None
) -> list[Any]:
    """Decode a vector's values; a ``mixed`` vector uses its per-point ``dtypes``."""
    if dtype == DTYPE_MIXED:
        if dtypes is None or len(dtypes) != len(values):
            raise InvalidArgumentError(
                "a mixed metric vector needs one dtype per point; "
                "the collector's answer is malformed"
            )
        return [decode_value(v, d) for v, d in zip(values, dtypes, strict=True)]
    return [decode_value(v, dtype) for v in values]


def encode_value(value: Any) -> Any:
    """Inverse of `decode_value` for JSON output: non-finite floats become strings."""
    if isinstance(value, float) and not math.isfinite(value):
        return "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")
    return value


def jsonable(obj: Any) -> Any:
    """Return *obj* with every non-finite float replaced by its API string (strict JSON)."""
    if isinstance(obj, Mapping):
        return {k: jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [jsonable(v) for v in obj]
    return encode_value(obj)


def decode_vector(payload: Mapping[str, Any]) -> Series:
    """Build a `Series` from a ``MetricVector`` JSON object."""
    dtype = str(payload["dtype"])
    return Series(
        name=str(payload["name"]),
        column=str(payload.get("column", "")),
        kind=str(payload.get("kind", c.KIND_SCALAR)),
        dtype=dtype,
        steps=[int(s) for s in payload.get("steps", [])],
        timestamps=[int(t) for t in payload.get("timestamps", [])],
        values=decode_values(payload.get("values", []), dtype, payload.get("dtypes")),
        downsampled=bool(payload.get("downsampled", False)),
    )


def _read_array(code: str, body: bytes) -> list[Any]:
    items = array(code)
    items.frombytes(body)
    if sys.byteorder == "big" and items.itemsize > 1:
        items.byteswap()  # the wire is little-endian
    return items.tolist()


def decode_binary(
    body: bytes,
    *,
    name: str,
    column: str,
    kind: str,
    dtype: str,
    count: int,
    downsampled: bool = False,
) -> Series:
    """Decode a binary vector: steps (int64) ‖ timestamps (int64) ‖ values, little-endian.

    Raises:
        InvalidArgumentError: *dtype* is not numeric or the body's length does not match.
    """
    if dtype not in _ARRAY_CODES:
        raise InvalidArgumentError(f"binary vectors carry f8, i8 or bool values, not {dtype!r}")
    expected = count * (16 + _ITEM_SIZES[dtype])
    if len(body) != expected or count < 0:
        raise InvalidArgumentError(
            f"binary vector of {count} {dtype} points should be {expected} bytes, got {len(body)}"
        )
    values = _read_array(_ARRAY_CODES[dtype], body[16 * count :])
    if dtype == c.DTYPE_BOOL:
        values = [bool(v) for v in values]
    return Series(
        name,
        column,
        kind,
        dtype,
        _read_array("q", body[: 8 * count]),
        _read_array("q", body[8 * count : 16 * count]),
        values,
        downsampled,
    )


def decode_summary(summary: Mapping[str, Any]) -> dict[str, Any]:
    """Return a ``MetricSummary`` with ``last``, ``min`` and ``max`` as Python values."""
    out = dict(summary)
    dtype = str(summary.get("dtype", ""))
    if dtype != DTYPE_MIXED:  # a mixed summary's last value has no dtype of its own
        out["last"] = decode_value(summary.get("last"), dtype)
    for key in ("min", "max"):
        if summary.get(key) is not None:
            out[key] = decode_value(summary[key], c.DTYPE_FLOAT)
    return out


def decode_run(run: Mapping[str, Any]) -> dict[str, Any]:
    """Return a ``Run`` object with its metric summaries decoded."""
    out = dict(run)
    out["metrics"] = [decode_summary(m) for m in run.get("metrics", [])]
    return out


def summary_as_series(summary: Mapping[str, Any]) -> Series:
    """The one point of a metric logged once, taken from its summary (no vector request)."""
    dtype = str(summary["dtype"])
    return Series(
        str(summary["name"]),
        str(summary.get("column", "")),
        str(summary.get("kind", c.KIND_SCALAR)),
        dtype,
        [int(summary.get("last_step", 0))],
        [int(summary.get("last_time_ns", 0))],
        [decode_value(summary.get("last"), dtype)],
    )


def _one_or_list(values: list[Any]) -> Any:
    return values[0] if len(values) == 1 else list(values)


def shape_metrics(columns: Iterable[Series]) -> dict[str, Any]:
    """Shape metric columns as Azure ML v1's ``Run.get_metrics()`` does.

    Scalar and image metrics logged once give the value (an image's file path), several
    times a list; a list metric gives its list; row, table and (OTel) histogram metrics
    give ``{column: [values, ...]}`` with columns in the order they come. Names keep the order
    they come in.
    """
    shaped: dict[str, Any] = {}
    tables: dict[str, list[Series]] = {}
    for series in columns:
        if series.kind in (c.KIND_ROW, c.KIND_TABLE, c.KIND_HISTOGRAM):
            table = shaped.setdefault(series.name, {})
            if isinstance(table, dict):
                tables.setdefault(series.name, []).append(series)
        elif series.kind == c.KIND_LIST:
            shaped[series.name] = list(series.values)
        else:
            shaped[series.name] = _one_or_list(series.values)
    for name, table_columns in tables.items():
        shaped[name] = align_columns(table_columns)
    return shaped


def align_columns(columns: Sequence[Series]) -> dict[str, list[Any]]:
    """``{column: [values]}`` with one entry per row (step) of the table: a row that did not
    set a column has None there, so rows with differing columns keep their alignment."""
    steps = sorted({step for series in columns for step in series.steps})
    aligned: dict[str, list[Any]] = {}
    for series in columns:
        by_step = dict(zip(series.steps, series.values, strict=True))
        aligned[series.column] = [by_step.get(step) for step in steps]
    return aligned
