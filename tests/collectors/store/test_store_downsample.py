"""Downsampled views from the chunks' block summaries (and the full-read fallback)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from collectors.ops import AppendPoints, EnsureRun
from collectors.store import SQLStore, chunks

N = 200_000


def _store_series(store: SQLStore, values: np.ndarray, dtype: str = "f8", run: str = "r1") -> None:
    steps = np.arange(len(values), dtype=np.int64)
    ops = [EnsureRun(run, "exp", 1)]
    for start in range(0, len(values), 30_000):  # several requests: chunks are topped up
        part = slice(start, start + 30_000)
        ops.append(
            AppendPoints(
                run, "loss", "scalar", dtype, steps[part], steps[part] + 10**9, values[part]
            )
        )
    store.apply([ops])


def test_summary_view_keeps_first_last_and_every_spike(store: SQLStore) -> None:
    values = np.sin(np.arange(N) / 1000.0)
    values[777] = 50.0
    values[150_001] = -60.0
    values[9_999] = math.nan
    _store_series(store, values)
    view = store.read_metric_downsampled("r1", "loss", "", 2000)
    assert view is not None
    assert len(view.steps) <= 2000
    assert (0, N - 1) == (int(view.steps[0]), int(view.steps[-1]))
    assert values[0] == view.values[0]
    assert values[-1] == view.values[-1]
    assert {50.0, -60.0} <= set(view.values.tolist())
    assert not np.isnan(view.values).any()
    assert (np.diff(view.steps) > 0).all()
    assert (view.steps + 10**9 == view.times).all()
    assert values[view.steps].tolist() == view.values.tolist()


def test_summary_view_matches_full_read_extremes_per_bucket(store: SQLStore) -> None:
    rng = np.random.default_rng(7)
    values = rng.normal(size=N)
    _store_series(store, values)
    view = store.read_metric_downsampled("r1", "loss", "", 1002)
    assert view is not None
    assert values.max() == view.values.max()
    assert values.min() == view.values.min()


def test_integer_series_downsample_exactly(store: SQLStore) -> None:
    values = np.arange(N, dtype=np.int64) * 3 + 2**60
    _store_series(store, values, "i8")
    view = store.read_metric_downsampled("r1", "loss", "", 500)
    assert view is not None
    assert np.int64 == view.values.dtype
    assert values[view.steps].tolist() == view.values.tolist()
    assert int(values[-1]) == int(view.values[-1])


def test_short_vectors_are_returned_whole(store: SQLStore) -> None:
    values = np.arange(50, dtype=np.float64)
    _store_series(store, values)
    view = store.read_metric_downsampled("r1", "loss", "", 2000)
    assert view is not None
    assert values.tolist() == view.values.tolist()


def test_block_summary_picks_min_and_max_of_each_block() -> None:
    values = np.array([3.0, 1.0, 2.0] + [5.0] * 97 + [math.nan, 7.0])
    steps = np.arange(len(values), dtype=np.int64)
    blob = chunks.block_summary("f8", steps, steps, values)
    assert blob is not None
    summary_steps, _, summary_values = chunks.split_summary("f8", blob)
    assert [1, 3, 101, 101] == summary_steps.tolist()
    assert [1.0, 5.0, 7.0, 7.0] == summary_values.tolist()


def test_block_summary_is_none_for_strings() -> None:
    assert chunks.block_summary("str", np.arange(1), np.arange(1), ["a"]) is None


@pytest.mark.parametrize("max_points", [1, 0])
def test_max_points_below_two_is_refused(store: SQLStore, max_points: int) -> None:
    _store_series(store, np.arange(10, dtype=np.float64))
    with pytest.raises(ValueError, match="at least 2"):
        store.read_metric_downsampled("r1", "loss", "", max_points)
