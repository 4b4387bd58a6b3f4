"""JSON and binary encodings of the query API's values (see docs/api.md, "Values in JSON").

Non-finite floats become the strings ``"NaN"``, ``"Infinity"`` and ``"-Infinity"``; every
object carrying values also carries its ``dtype``. Long vectors are encoded with
``ndarray.tolist()`` plus a patch of the few non-finite positions, so a million points take
a fraction of a second rather than a Python call per point.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, fields
from typing import Any

import numpy as np
import numpy.typing as npt

from collectors.store.base import ExperimentInfo, FileInfo, MetricSummary, MetricVector, RunInfo
from runlog import conventions as c

BINARY_MEDIA_TYPE = c.BINARY_MEDIA_TYPE
MIXED = "mixed"
_NUMERIC = {c.DTYPE_FLOAT: "<f8", c.DTYPE_INT: "<i8", c.DTYPE_BOOL: "u1"}


def parse_json(body: bytes, max_depth: int) -> Any:
    """Parse a request body as JSON that the store can keep.

    Raises:
        ValueError: the body is not JSON, nests deeper than *max_depth*, or holds a string
            with a lone surrogate (``"\\ud800"``: valid JSON, but no UTF-8 text can hold it).
    """
    try:
        tree = json.loads(body)
    except RecursionError:
        raise ValueError(f"JSON nested deeper than {max_depth} levels") from None
    check_json_tree(tree, max_depth)
    return tree


def check_json_tree(tree: Any, max_depth: int) -> None:
    """Refuse nesting deeper than *max_depth* and strings UTF-8 cannot encode (iteratively).

    Raises:
        ValueError: saying which rule the tree breaks.
    """
    stack: list[tuple[Any, int]] = [(tree, 0)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, str):
            _check_text(node)
        elif isinstance(node, (dict, list)):
            if depth >= max_depth:
                raise ValueError(f"JSON nested deeper than {max_depth} levels")
            if isinstance(node, dict):
                for key in node:
                    _check_text(key)
            children = node.values() if isinstance(node, dict) else node
            stack.extend((child, depth + 1) for child in children)


def _check_text(text: str) -> None:
    if not text.isascii():
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:
            raise ValueError(
                f"a string holds a lone surrogate ({text[:40]!r}); send valid Unicode text"
            ) from None


def json_float(value: float) -> float | str:
    """A float as JSON: itself, or ``"NaN"`` / ``"Infinity"`` / ``"-Infinity"``."""
    if math.isfinite(value):
        return value
    if math.isnan(value):
        return "NaN"
    return "Infinity" if value > 0 else "-Infinity"


def json_scalar(value: Any) -> Any:
    """One value (numpy scalars included) as JSON-ready Python."""
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float):
        return json_float(value)
    return value


def dtype_of(value: Any) -> str:
    """The dtype name of one Python value (``bool`` before ``i8``: bool is an int)."""
    if isinstance(value, (bool, np.bool_)):
        return c.DTYPE_BOOL
    if isinstance(value, (int, np.integer)):
        return c.DTYPE_INT
    if isinstance(value, (float, np.floating)):
        return c.DTYPE_FLOAT
    return c.DTYPE_STR


def json_values(values: npt.NDArray[Any] | list[Any]) -> list[Any]:
    """A whole vector of values as JSON-ready Python, fast for numpy arrays."""
    if not isinstance(values, np.ndarray):
        return [json_scalar(v) for v in values]
    out: list[Any] = values.tolist()
    if values.dtype.kind == "f":
        for index in np.flatnonzero(~np.isfinite(values)).tolist():
            out[index] = json_float(out[index])
    return out


def dumps(obj: Any) -> bytes:
    """Compact JSON bytes; non-finite floats must already be strings."""
    return json.dumps(obj, separators=(",", ":"), allow_nan=False).encode()


def experiment_json(info: ExperimentInfo) -> dict[str, Any]:
    """An ``Experiment`` object."""
    return asdict(info)


def summary_json(summary: MetricSummary) -> dict[str, Any]:
    """A ``MetricSummary`` object."""
    out = asdict(summary)
    for key in ("last", "min", "max"):
        out[key] = json_scalar(out[key])
    return out


def run_json(run: RunInfo) -> dict[str, Any]:
    """A ``Run`` object, its metric summaries included."""
    out = {f.name: getattr(run, f.name) for f in fields(run) if f.name != "metrics"}
    out["metrics"] = [summary_json(m) for m in run.metrics]
    return out


def file_json(info: FileInfo) -> dict[str, Any]:
    """A ``File`` object."""
    return asdict(info)


def vector_json(vector: MetricVector, downsampled: bool = False) -> dict[str, Any]:
    """A ``MetricVector`` object (``dtypes`` per point for a mixed vector)."""
    out: dict[str, Any] = {
        "name": vector.name,
        "column": vector.column,
        "kind": vector.kind,
        "dtype": vector.dtype,
        "count": len(vector.steps),
        "steps": np.asarray(vector.steps).tolist(),
        "timestamps": np.asarray(vector.times).tolist(),
        "values": json_values(vector.values),
        "downsampled": downsampled,
    }
    if vector.dtype == MIXED:
        out["dtypes"] = [dtype_of(v) for v in vector.values]
    return out


def is_binary_encodable(vector: MetricVector) -> bool:
    """Numeric single-dtype vectors have a binary form; str and mixed ones do not."""
    return vector.dtype in _NUMERIC and isinstance(vector.values, np.ndarray)


def vector_binary(vector: MetricVector) -> memoryview:
    """steps (int64 LE) ‖ timestamps (int64 LE) ‖ values (float64/int64 LE or uint8).

    Built in one preallocated buffer: a 1M-point vector is 24 MB, and every extra copy
    costs ~10 ms here.
    """
    count = len(vector.steps)
    value_type = np.dtype(_NUMERIC[vector.dtype])
    out = np.empty(16 * count + value_type.itemsize * count, dtype=np.uint8)
    out[: 8 * count].view("<i8")[:] = vector.steps
    out[8 * count : 16 * count].view("<i8")[:] = vector.times
    out[16 * count :].view(value_type)[:] = vector.values
    return out.data


def vector_headers(vector: MetricVector) -> dict[str, str]:
    """The ``X-Runlog-*`` headers of a binary vector."""
    return {
        c.HEADER_COUNT: str(len(vector.steps)),
        c.HEADER_DTYPE: vector.dtype,
        c.HEADER_KIND: vector.kind,
    }
