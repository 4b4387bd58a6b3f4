"""Chunk encoding and downsampling (pure functions)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from collectors.store import chunks


@pytest.mark.parametrize(
    ("dtype", "values"),
    [
        ("f8", np.array([1.5, np.nan, -0.0, np.inf])),
        ("i8", np.array([-(2**63), 2**63 - 1], dtype=np.int64)),
        ("bool", np.array([True, False])),
        ("str", ["a", "ü", ""]),
    ],
)
def test_encode_join_roundtrip(dtype: str, values: Any) -> None:
    blob = chunks.encode_values(dtype, values)

    joined = chunks.join_values(dtype, [blob, blob])

    expected = list(values) + list(values)
    if dtype == "f8":
        assert (
            np.concatenate([values, values]).view(np.int64).tolist()
            == joined.view(np.int64).tolist()
        )
    else:
        assert expected == list(joined)


def test_layouts_are_little_endian() -> None:
    assert chunks.encode_ints(np.array([1])) == b"\x01\x00\x00\x00\x00\x00\x00\x00"
    assert chunks.encode_values("f8", np.array([1.0])) == b"\x00\x00\x00\x00\x00\x00\xf0\x3f"
    assert chunks.encode_values("bool", np.array([True, False])) == b"\x01\x00"
    assert chunks.encode_values("str", ["a"]) == b'["a"]'


@pytest.mark.parametrize(
    ("dtype", "values", "message"),
    [
        ("f8", ["x"], "declared 'f8'"),
        ("i8", np.array([1.5]), "declared 'i8'"),
        ("i8", np.array([2**64 - 1], dtype=np.uint64), "signed 64-bit"),
        ("bool", np.array([1]), "declared 'bool'"),
        ("str", [1], "list of strings"),
        ("f4", np.array([1.0]), "unknown dtype"),
    ],
)
def test_as_values_refuses_wrong_types(dtype: str, values: Any, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        chunks.as_values(dtype, values)


def test_numeric_range_skips_nan() -> None:
    assert chunks.numeric_range("f8", np.array([np.nan, 2.0, -1.0])) == (-1.0, 2.0)
    assert chunks.numeric_range("f8", np.array([np.nan])) == (None, None)
    assert chunks.numeric_range("str", ["a"]) == (None, None)
    assert chunks.numeric_range("bool", np.array([True, False])) == (0.0, 1.0)


def test_downsample_keeps_first_last_and_bucket_extremes() -> None:
    values = np.zeros(1002)
    values[500], values[700] = 5.0, -5.0

    picked = chunks.downsample_indices(values, 12)

    assert len(picked) <= 12
    assert (picked[0], picked[-1]) == (0, 1001)
    assert {500, 700} <= set(picked.tolist())
    assert sorted(set(picked.tolist())) == picked.tolist()


@pytest.mark.parametrize("count", [3, 10, 999, 1000, 1001, 4097])
@pytest.mark.parametrize("max_points", [2, 3, 4, 7, 100])
def test_downsample_never_exceeds_max_points(count: int, max_points: int) -> None:
    rng = np.random.default_rng(count * max_points)
    values = rng.normal(size=count)
    values[rng.integers(0, count, 5)] = np.nan

    picked = chunks.downsample_indices(values, max_points)

    assert (count if count <= max_points else max_points) >= len(picked)
    assert (0, count - 1) == (picked[0], picked[-1])
    assert sorted(set(picked.tolist())) == picked.tolist()


def test_downsample_small_vectors_unchanged() -> None:
    assert chunks.downsample_indices(np.array([3, 1, 2]), 5).tolist() == [0, 1, 2]


def test_downsample_prefers_numbers_over_nan() -> None:
    values = np.array([0.0, np.nan, 7.0, np.nan, np.nan, 0.0])

    picked = chunks.downsample_indices(values, 4)

    assert picked.tolist() == [0, 2, 5]


@pytest.mark.parametrize(
    ("values", "max_points"), [(np.array(["a", "b", "c"]), 2), (np.zeros(5), 1)]
)
def test_downsample_refuses(values: Any, max_points: int) -> None:
    with pytest.raises(ValueError):
        chunks.downsample_indices(values, max_points)
