"""Columnar chunks of metric points: encoding, decoding, summaries and downsampling.

Pure functions on numpy arrays, no I/O. A chunk holds up to `CHUNK_POINTS` points of one
dtype as three blobs:

- steps and times: little-endian int64;
- values: little-endian float64 (``f8``), int64 (``i8``), uint8 0/1 (``bool``), or a UTF-8
  JSON list of strings (``str``).

For summaries, ``bool`` counts as numeric (0/1) and NaN and strings are left out of min/max.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from typing import Any, Final

import numpy as np
import numpy.typing as npt

from runlog.conventions import DTYPE_BOOL, DTYPE_FLOAT, DTYPE_INT, DTYPE_STR

#: Target number of points per chunk; a metric's last chunk is topped up to this size.
CHUNK_POINTS: Final = 10_000

#: numpy dtype of each numeric wire dtype, as stored (little-endian).
NUMPY_DTYPES: Final[dict[str, np.dtype[Any]]] = {
    DTYPE_FLOAT: np.dtype("<f8"),
    DTYPE_INT: np.dtype("<i8"),
    DTYPE_BOOL: np.dtype("u1"),
}
_ACCEPTED_KINDS: Final = {DTYPE_FLOAT: "f", DTYPE_INT: "iu", DTYPE_BOOL: "b"}
_I8 = np.dtype("<i8")

Values = npt.NDArray[Any] | list[Any]


def as_ints(what: str, array: object) -> npt.NDArray[np.int64]:
    """Return *array* as a contiguous int64 array; raise ValueError if it is not integral."""
    result = np.asarray(array)
    if result.ndim != 1 or (result.size and result.dtype.kind not in "iu"):
        raise ValueError(f"{what} must be a 1-d integer array, got {result.dtype}{result.shape}")
    return np.ascontiguousarray(result, dtype=_I8)


def as_values(dtype: str, values: object) -> Values:
    """Check *values* against *dtype* and return them in the form chunks store.

    Raises:
        ValueError: *dtype* is unknown or *values* do not have that dtype.
    """
    if dtype == DTYPE_STR:
        items = values.tolist() if isinstance(values, np.ndarray) else values
        if not isinstance(items, list) or not all(isinstance(v, str) for v in items):
            raise ValueError("values of dtype 'str' must be a list of strings")
        return items
    if dtype not in NUMPY_DTYPES:
        raise ValueError(f"unknown dtype {dtype!r}; expected one of f8, i8, bool, str")
    array = np.asarray(values)
    if array.ndim != 1 or (array.size and array.dtype.kind not in _ACCEPTED_KINDS[dtype]):
        raise ValueError(f"values declared {dtype!r} but are {array.dtype}{array.shape}")
    if dtype == DTYPE_INT and array.dtype == np.uint64 and array.size and array.max() > 2**63 - 1:
        raise ValueError("i8 values must fit in a signed 64-bit integer")
    if dtype == DTYPE_BOOL:
        return np.ascontiguousarray(array, dtype=np.bool_)
    return np.ascontiguousarray(array, dtype=NUMPY_DTYPES[dtype])


def encode_ints(array: npt.NDArray[np.int64]) -> bytes:
    """Encode steps or times as little-endian int64 bytes."""
    return np.ascontiguousarray(array, dtype=_I8).tobytes()


def encode_values(dtype: str, values: Values) -> bytes:
    """Encode one chunk's values (see the module docstring for the layouts)."""
    if dtype == DTYPE_STR:
        return json.dumps(list(values), ensure_ascii=False).encode("utf-8")
    return np.ascontiguousarray(values, dtype=NUMPY_DTYPES[dtype]).tobytes()


def join_ints(blobs: Sequence[bytes]) -> npt.NDArray[np.int64]:
    """Decode and concatenate int64 blobs into one writable array (one copy)."""
    return np.frombuffer(bytearray().join(blobs), dtype=_I8)


def join_values(dtype: str, blobs: Sequence[bytes]) -> Values:
    """Decode and concatenate value blobs that all have *dtype*."""
    if dtype == DTYPE_STR:
        return [v for blob in blobs for v in json.loads(blob.decode("utf-8"))]
    array = np.frombuffer(bytearray().join(blobs), dtype=NUMPY_DTYPES[dtype])
    return array.view(np.bool_) if dtype == DTYPE_BOOL else array


def fill_numeric(
    dtype: str, count: int, rows: Iterable[Any]
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64], npt.NDArray[Any]]:
    """Decode chunk rows (with ``steps``, ``times``, ``values`` blobs) of one numeric dtype.

    *count* is the total number of points (the metric's summary count); the arrays are
    allocated once and each chunk is copied in place.

    Raises:
        ValueError: The chunks hold a different number of points than *count*.
    """
    steps, times = np.empty(count, _I8), np.empty(count, _I8)
    values = np.empty(count, NUMPY_DTYPES[dtype])
    position = 0
    for row in rows:
        n = len(row.steps) // 8
        if position + n > count:
            raise ValueError(f"metric chunks hold more than the {count} points counted")
        end = position + n
        steps[position:end] = np.frombuffer(row.steps, _I8)
        times[position:end] = np.frombuffer(row.times, _I8)
        values[position:end] = np.frombuffer(row.values, NUMPY_DTYPES[dtype])
        position = end
    if position != count:
        raise ValueError(f"metric chunks hold {position} points, the summary counts {count}")
    return steps, times, values.view(np.bool_) if dtype == DTYPE_BOOL else values


def concat_values(dtype: str, parts: Sequence[Values]) -> Values:
    """Concatenate value parts of one dtype (numpy arrays, or lists for ``str``)."""
    if dtype == DTYPE_STR:
        return [v for part in parts for v in part]
    if len(parts) == 1:
        return parts[0]
    return np.concatenate([np.asarray(p) for p in parts])


def numeric_range(dtype: str, values: Values) -> tuple[float | None, float | None]:
    """Return (min, max) over the numeric, non-NaN values, or (None, None) if there are none."""
    if dtype == DTYPE_STR or len(values) == 0:
        return None, None
    array = np.asarray(values)
    if dtype == DTYPE_FLOAT:
        low, high = np.fmin.reduce(array), np.fmax.reduce(array)  # fmin/fmax skip NaN
        if np.isnan(low):
            return None, None
        return float(low), float(high)
    return float(array.min()), float(array.max())


def python_value(dtype: str, value: Any) -> Any:
    """Turn one stored value (numpy scalar or str) into the matching Python value."""
    if dtype == DTYPE_FLOAT:
        return float(value)
    if dtype == DTYPE_INT:
        return int(value)
    if dtype == DTYPE_BOOL:
        return bool(value)
    return str(value)


def downsample_indices(values: npt.NDArray[Any], max_points: int) -> npt.NDArray[np.intp]:
    """Pick at most *max_points* indices of *values* that keep its shape on a chart.

    Keeps the first and the last point; splits the points between them into
    ``(max_points - 2) // 2`` equal buckets and keeps each bucket's minimum and maximum
    (in index order). NaN points are kept only where a bucket has nothing else.

    Raises:
        ValueError: *max_points* is below 2 or *values* are not numeric.
    """
    if max_points < 2:
        raise ValueError(f"max_points must be at least 2, got {max_points}")
    if values.dtype.kind not in "fiub":
        raise ValueError(f"only numeric vectors can be downsampled, not {values.dtype}")
    count = len(values)
    if count <= max_points:
        return np.arange(count, dtype=np.intp)
    buckets = (max_points - 2) // 2
    inner = _bucket_extremes(values[1:-1], buckets) + 1 if buckets else np.empty(0, np.intp)
    return np.concatenate(([0], inner, [count - 1])).astype(np.intp)


def _bucket_extremes(values: npt.NDArray[Any], buckets: int) -> npt.NDArray[np.intp]:
    """Indices of each bucket's min and max, in index order, without duplicates."""
    size = -(-len(values) // buckets)
    if values.dtype.kind == "f" and np.isnan(values).any():
        low, high = _nan_aware_extremes(values, buckets, size)
    else:  # fast path: argmin/argmax on a reshaped view, no copy
        whole = len(values) // size
        grid = values[: whole * size].reshape(whole, size)
        low, high = grid.argmin(axis=1), grid.argmax(axis=1)
        rest = values[whole * size :]
        if len(rest):
            low, high = np.append(low, rest.argmin()), np.append(high, rest.argmax())
    offsets = np.arange(len(low)) * size
    picked = np.sort(np.stack([low + offsets, high + offsets], axis=1), axis=1).ravel()
    keep = np.ones(len(picked), dtype=bool)
    keep[1:] = picked[1:] != picked[:-1]
    return picked[keep]


def _nan_aware_extremes(
    values: npt.NDArray[Any], buckets: int, size: int
) -> tuple[npt.NDArray[np.intp], npt.NDArray[np.intp]]:
    """Per-bucket argmin/argmax that pick NaN only in a bucket of nothing but NaN."""
    padded = np.full(size * buckets, np.nan)
    padded[: len(values)] = values
    nan = np.isnan(padded)
    low = np.where(nan, np.inf, padded).reshape(buckets, size).argmin(axis=1)
    high = np.where(nan, -np.inf, padded).reshape(buckets, size).argmax(axis=1)
    real = np.arange(buckets) * size < len(values)  # a bucket made only of padding has none
    return low[real], high[real]


# --- block summaries: downsampling without reading every point ----------------------------
#: Points per block of a chunk's summary. A chunk's summary keeps, per block, the point with
#: the smallest and the one with the largest value; a chart-sized view of a long vector is
#: then built from summaries (~1% of the data) instead of from every point.
SUMMARY_BLOCK: Final = 100


def block_summary(
    dtype: str, steps: npt.NDArray[np.int64], times: npt.NDArray[np.int64], values: Values
) -> bytes | None:
    """The summary blob of one chunk, or None for non-numeric chunks.

    Layout: ``2 * blocks`` points as steps (int64 LE) ‖ times (int64 LE) ‖ values (the
    chunk's dtype), ordered min, max of block 0, min, max of block 1, … NaN is picked only
    in a block of nothing but NaN.
    """
    if dtype not in NUMPY_DTYPES or not isinstance(values, np.ndarray) or not len(values):
        return None
    picks = _block_extremes(values)
    return b"".join(
        (
            encode_ints(np.ascontiguousarray(steps[picks], dtype=_I8)),
            encode_ints(np.ascontiguousarray(times[picks], dtype=_I8)),
            np.ascontiguousarray(values[picks], dtype=NUMPY_DTYPES[dtype]).tobytes(),
        )
    )


def _block_extremes(values: npt.NDArray[Any]) -> npt.NDArray[np.intp]:
    blocks = -(-len(values) // SUMMARY_BLOCK)
    as_float = values.astype(np.float64, copy=False) if values.dtype.kind != "f" else values
    padded = np.full(blocks * SUMMARY_BLOCK, np.nan)
    padded[: len(values)] = as_float
    nan = np.isnan(padded)
    if values.dtype.kind == "f":
        grid_low, grid_high = np.where(nan, np.inf, padded), np.where(nan, -np.inf, padded)
    else:  # integers: compare exactly, padding never wins
        exact = np.zeros(blocks * SUMMARY_BLOCK, dtype=np.int64)
        exact[: len(values)] = values
        limits = np.iinfo(np.int64)
        grid_low = np.where(nan, limits.max, exact)
        grid_high = np.where(nan, limits.min, exact)
    low = grid_low.reshape(blocks, SUMMARY_BLOCK).argmin(axis=1)
    high = grid_high.reshape(blocks, SUMMARY_BLOCK).argmax(axis=1)
    offsets = np.arange(blocks) * SUMMARY_BLOCK
    picks = np.stack([low + offsets, high + offsets], axis=1).ravel()
    result: npt.NDArray[np.intp] = np.minimum(picks, len(values) - 1)
    return result


def split_summary(
    dtype: str, blob: bytes
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64], npt.NDArray[Any]]:
    """Steps, times and values of a summary blob (see `block_summary`)."""
    value_type = NUMPY_DTYPES[dtype]
    count = len(blob) // (16 + value_type.itemsize)
    steps = np.frombuffer(blob, dtype=_I8, count=count)
    times = np.frombuffer(blob, dtype=_I8, count=count, offset=8 * count)
    values = np.frombuffer(blob, dtype=value_type, count=count, offset=16 * count)
    return steps, times, values


def downsample_summaries(
    dtype: str, blobs: Sequence[bytes], max_points: int
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64], npt.NDArray[Any]]:
    """Min/max per bucket of whole blocks, from the chunks' summaries (first/last excluded).

    Returns at most ``max_points - 2`` points; the caller adds the first and last point.
    """
    parts = [split_summary(dtype, blob) for blob in blobs]
    steps = np.concatenate([p[0] for p in parts])
    times = np.concatenate([p[1] for p in parts])
    values = np.concatenate([p[2] for p in parts])
    lows, highs = values[0::2], values[1::2]
    buckets = max(1, (max_points - 2) // 2)
    size = -(-len(lows) // buckets)
    low = _grouped(lows, size, np.argmin, np.inf) * 2
    high = _grouped(highs, size, np.argmax, -np.inf) * 2 + 1
    picked = np.stack([low, high], axis=1)
    order = np.argsort(times[picked], axis=1, kind="stable")
    picked = np.take_along_axis(picked, order, axis=1).ravel()
    keep = np.ones(len(picked), dtype=bool)
    keep[1:] = picked[1:] != picked[:-1]
    picked = picked[keep]
    return steps[picked], times[picked], values[picked]


def _grouped(values: npt.NDArray[Any], size: int, pick: Any, fill: float) -> npt.NDArray[np.intp]:
    """Index of each group's pick (argmin/argmax) over groups of *size*, NaN avoided."""
    groups = -(-len(values) // size)
    if values.dtype.kind == "f":
        padded = np.full(groups * size, fill)
        padded[: len(values)] = np.where(np.isnan(values), fill, values)
    else:
        limits = np.iinfo(np.int64)
        padded = np.full(groups * size, limits.max if fill > 0 else limits.min, dtype=np.int64)
        padded[: len(values)] = values
    index = pick(padded.reshape(groups, size), axis=1) + np.arange(groups) * size
    result: npt.NDArray[np.intp] = np.minimum(index, len(values) - 1).astype(np.intp)
    return result
