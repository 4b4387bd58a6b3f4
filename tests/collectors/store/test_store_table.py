"""The runs table as columns (the studio's dashboard) and run counts by status."""

from __future__ import annotations

import math

import numpy as np
import pytest

from collectors.ops import AppendPoints, EnsureRun, SetParam, SetStatus, SetTag
from collectors.store import FilterError, SQLStore


def _point(run: str, name: str, value: object, dtype: str = "f8") -> AppendPoints:
    one = np.array([0], dtype=np.int64)
    values = [value] if dtype == "str" else np.array([value])
    return AppendPoints(run, name, "scalar", dtype, one, one + 1, values)


@pytest.fixture
def filled(store: SQLStore) -> SQLStore:
    ops: list = []
    for i, alpha in enumerate(["0.1", "0.2", "0.3"]):
        run = f"r{i}"
        ops += [
            EnsureRun(run, "sweep", 100 + i, name=f"alpha={alpha}"),
            SetParam(run, "alpha", alpha),
        ]
        ops.append(_point(run, "mse", 3000.0 + i))
    ops += [
        SetTag("r1", "best", "yes"),
        _point("r2", "note", "ok", "str"),
        SetStatus("r2", "Failed", 5),
    ]
    ops += [_point("r0", "nan", math.nan), EnsureRun("c1", "sweep", 200, parent_id="r0")]
    ops += [EnsureRun("other", "elsewhere", 300)]
    store.apply([ops])
    return store


def test_the_table_has_one_entry_per_run_in_every_column(filled: SQLStore) -> None:
    table = filled.run_table(["sweep"], order_by=["attributes.start_time ASC"])

    assert ["r0", "r1", "r2", "c1"] == table.run_ids
    assert ["alpha=0.1", "alpha=0.2", "alpha=0.3", None] == table.names
    assert ["Running", "Running", "Failed", "Running"] == table.statuses
    assert [None, None, None, "r0"] == table.parent_ids
    assert {"alpha": ["0.1", "0.2", "0.3", None]} == table.params
    assert {"best": [None, "yes", None, None]} == table.tags
    assert [3000.0, 3001.0, 3002.0, None] == table.metrics["mse"]
    assert [None, None, "ok", None] == table.metrics["note"]
    assert math.isnan(table.metrics["nan"][0])


def test_the_table_takes_the_search_filter_and_pages(filled: SQLStore) -> None:
    first = filled.run_table(["sweep"], "metrics.mse > 3000", ["metrics.mse DESC"], 1)
    second = filled.run_table(
        ["sweep"], "metrics.mse > 3000", ["metrics.mse DESC"], 1, first.next_page_token
    )

    assert (["r2"], ["r1"]) == (first.run_ids, second.run_ids)
    assert second.next_page_token is None
    with pytest.raises(FilterError):
        filled.run_table(["sweep"], "metrics.mse <<< 3")


def test_status_counts_per_experiment(filled: SQLStore) -> None:
    assert {
        "sweep": {"Running": 3, "Failed": 1},
        "elsewhere": {"Running": 1},
    } == filled.status_counts()
