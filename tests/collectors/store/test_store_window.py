"""Metric windows by step or time (a zoomed chart), read from the chunks that hold them."""

from __future__ import annotations

import numpy as np
import pytest

from collectors.ops import AppendPoints, EnsureRun
from collectors.store import SQLStore, _window

N = 100_000
T0 = 1_700_000_000_000_000_000


def _store(store: SQLStore, steps: np.ndarray, values: np.ndarray, dtype: str = "f8") -> None:
    ops: list = [EnsureRun("r1", "exp", 1)]
    for start in range(0, len(steps), 25_000):
        part = slice(start, start + 25_000)
        times = T0 + steps[part] * 1000
        ops.append(AppendPoints("r1", "loss", "scalar", dtype, steps[part], times, values[part]))
    store.apply([ops])


def test_a_window_holds_exactly_the_points_within_its_bounds(store: SQLStore) -> None:
    steps = np.arange(N, dtype=np.int64)
    values = np.cos(steps / 500.0)
    _store(store, steps, values)

    window = store.read_metric_window("r1", "loss", "", "step", (31_234, 31_300))

    assert window is not None
    vector, downsampled = window
    assert list(range(31_234, 31_301)) == vector.steps.tolist()
    assert values[31_234:31_301].tolist() == vector.values.tolist()
    assert not downsampled


def test_a_window_by_time_and_downsampled_keeps_its_extremes(store: SQLStore) -> None:
    steps = np.arange(N, dtype=np.int64)
    values = np.sin(steps / 300.0)
    values[60_123] = 42.0
    _store(store, steps, values)

    window = store.read_metric_window(
        "r1", "loss", "", "time", (T0 + 50_000 * 1000, T0 + 70_000 * 1000), max_points=200
    )

    assert window is not None
    vector, downsampled = window
    assert downsampled
    assert len(vector.steps) <= 200
    assert 50_000 <= vector.steps.min() and vector.steps.max() <= 70_000
    assert 42.0 == vector.values.max()


def test_a_wide_window_comes_from_block_summaries(
    store: SQLStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_window, "RAW_LIMIT", 1_000)  # as a window of 10M points would
    steps = np.arange(N, dtype=np.int64)
    values = np.sin(steps / 300.0)
    values[40_001] = -9.0
    _store(store, steps, values)

    window = store.read_metric_window("r1", "loss", "", "step", (20_000, 80_000), max_points=500)

    assert window is not None
    vector, downsampled = window
    assert downsampled
    assert len(vector.steps) <= 500
    assert 20_000 <= vector.steps.min() and vector.steps.max() <= 80_000
    assert -9.0 == vector.values.min()
    assert np.all(np.diff(vector.times) >= 0)  # drawn left to right


def test_steps_that_go_backwards_still_find_every_point(store: SQLStore) -> None:
    steps = np.concatenate([np.arange(30_000), np.arange(30_000)]).astype(np.int64)
    values = np.arange(60_000, dtype=np.float64)
    _store(store, steps, values)

    window = store.read_metric_window("r1", "loss", "", "step", (100, 101))

    assert window is not None
    assert [100.0, 101.0, 30_100.0, 30_101.0] == sorted(window[0].values.tolist())


def test_string_metrics_are_cut_to_the_window(store: SQLStore) -> None:
    steps = np.arange(5, dtype=np.int64)
    store.apply(
        [
            [
                EnsureRun("r1", "exp", 1),
                AppendPoints("r1", "note", "scalar", "str", steps, steps + T0, list("abcde")),
            ]
        ]
    )

    window = store.read_metric_window("r1", "note", "", "step", (1, 3), max_points=100)

    assert window is not None
    assert ["b", "c", "d"] == window[0].values


def test_an_unknown_metric_has_no_window(store: SQLStore) -> None:
    assert None is store.read_metric_window("r1", "nope", "", "step", (0, 1))
