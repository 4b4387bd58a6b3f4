"""search_runs: every operator against stored runs, ordering, paging, batching."""

from __future__ import annotations

import numpy as np
import pytest

from collectors.ops import AppendPoints, EnsureRun, Op, SetParam, SetProperty, SetStatus, SetTag
from collectors.store import FilterError, SQLStore


def metric(run_id: str, name: str, value: float | int | str, dtype: str = "f8") -> AppendPoints:
    values = [value] if dtype == "str" else np.array([value], dtype={"f8": float, "i8": int}[dtype])
    one = np.array([1], dtype=np.int64)
    return AppendPoints(run_id, name, "scalar", dtype, one, one, values)


@pytest.fixture
def runs(store: SQLStore) -> SQLStore:
    """Four runs: a (mse 1.5), b (mse 20, i8), c (mse NaN), d (no metrics), in two experiments."""
    ops: list[Op] = [
        EnsureRun("a", "exp", 100, name="alpha run"),
        EnsureRun("b", "exp", 300, name="Beta", parent_id="a"),
        EnsureRun("c", "exp", 200),
        EnsureRun("d", "other", 400),
        metric("a", "mse", 1.5),
        metric("b", "mse", 20, "i8"),
        metric("c", "mse", float("nan")),
        metric("a", "Cosine Wave", 0.25),
        metric("a", "note", "text", "str"),
        SetParam("a", "alpha", "0.5"),
        SetParam("b", "alpha", "0.7"),
        SetTag("a", "team", "ml-core"),
        SetTag("b", "team", "ML-edge"),
        SetProperty("c", "gpu", "h100"),
        SetStatus("a", "Completed", 150),
        SetStatus("b", "Failed", 350, "boom"),
    ]
    store.apply([ops])
    return store


def ids(store: SQLStore, filter_string: str = "", *order_by: str) -> list[str]:
    page = store.search_runs(filter=filter_string, order_by=order_by)
    return [run.run_id for run in page.runs]


@pytest.mark.parametrize(
    ("filter_string", "expected"),
    [
        ("", ["d", "b", "c", "a"]),
        ("metrics.mse < 3", ["a"]),
        ("metrics.mse <= 20", ["b", "a"]),
        ("metrics.mse > 1.5", ["b"]),
        ("metrics.mse >= 1.5", ["b", "a"]),
        ("metrics.mse = 20", ["b"]),
        ("metrics.mse != 20", ["a"]),
        ("metrics.mse IS NULL", ["d", "c"]),
        ("metrics.mse IS NOT NULL", ["b", "a"]),
        ("metrics.`Cosine Wave` < 1", ["a"]),
        ("metrics.note IS NULL", ["d", "b", "c", "a"]),
        ("params.alpha = '0.5'", ["a"]),
        ("params.alpha != '0.5'", ["b"]),
        ("params.alpha > '0.5'", ["b"]),
        ("params.alpha IS NULL", ["d", "c"]),
        ("tags.team LIKE 'ml-%'", ["a"]),
        ("tags.team ILIKE 'ml-%'", ["b", "a"]),
        ("properties.gpu = 'h100'", ["c"]),
        ("attributes.status = 'Completed'", ["a"]),
        ("attributes.status != 'Running'", ["b", "a"]),
        ("attributes.name = 'Beta'", ["b"]),
        ("attributes.name LIKE 'alpha%'", ["a"]),
        ("attributes.run_id = 'c'", ["c"]),
        ("attributes.parent_id = 'a'", ["b"]),
        ("attributes.experiment = 'other'", ["d"]),
        ("attributes.start_time >= 300", ["d", "b"]),
        ("attributes.end_time < 200", ["a"]),
        ("attributes.end_time IS NULL", ["d", "c"]),
        ("metrics.mse < 100 and params.alpha = '0.7' and tags.team = 'ML-edge'", ["b"]),
        ("attributes.run_id IN ('a', 'c', 'zz')", ["c", "a"]),
        ("attributes.run_id NOT IN ('a', 'c')", ["d", "b"]),
        ("params.alpha IN ('0.5', '0.7')", ["b", "a"]),
        ("params.alpha NOT IN ('0.5')", ["b"]),  # a run without the param matches neither
        ("tags.team NOT IN ('ml-core', 'x')", ["b"]),
        ("attributes.status IN ('Completed', 'Failed')", ["b", "a"]),
        ("metrics.mse IN (1.5, 20)", ["b", "a"]),
        ("metrics.mse NOT IN (20)", ["a"]),
        ("attributes.run_id = 'a' or attributes.run_id = 'd'", ["d", "a"]),
        # A run missing a key fails that comparison only; the other side of OR still counts.
        ("params.alpha = '0.7' or properties.gpu = 'h100'", ["b", "c"]),
        ("metrics.mse < 3 or tags.team = 'ML-edge' and params.alpha = '0.5'", ["a"]),
        ("(metrics.mse < 3 or tags.team = 'ML-edge') and attributes.start_time > 100", ["b"]),
    ],
)
def test_filter(runs: SQLStore, filter_string: str, expected: list[str]) -> None:
    assert expected == ids(runs, filter_string)


def test_experiments_restrict_the_search(runs: SQLStore) -> None:
    assert [r.run_id for r in runs.search_runs(experiments=["other"]).runs] == ["d"]
    assert runs.search_runs(experiments=["missing"]).runs == []
    assert len(runs.search_runs(experiments=["exp", "other"]).runs) == 4


@pytest.mark.parametrize(
    ("order_by", "expected"),
    [
        (("metrics.mse ASC",), ["a", "b", "c", "d"]),
        (("metrics.mse DESC",), ["b", "a", "c", "d"]),
        (("params.alpha DESC",), ["b", "a", "c", "d"]),
        (("attributes.start_time",), ["a", "c", "b", "d"]),
        (("attributes.experiment DESC", "attributes.start_time"), ["d", "a", "c", "b"]),
        (("tags.none ASC",), ["a", "b", "c", "d"]),
    ],
)
def test_order_by_puts_missing_last_and_breaks_ties_by_run_id(
    runs: SQLStore, order_by: tuple[str, ...], expected: list[str]
) -> None:
    assert expected == ids(runs, "", *order_by)


def test_paging_walks_every_run_once(store: SQLStore) -> None:
    store.apply([[EnsureRun(f"r{i:02d}", "exp", 1000 - i) for i in range(25)]])
    seen: list[str] = []
    token = None
    pages = 0
    while True:
        page = store.search_runs(max_results=10, page_token=token, order_by=["attributes.run_id"])
        seen += [run.run_id for run in page.runs]
        pages += 1
        token = page.next_page_token
        if token is None:
            break

    assert ([f"r{i:02d}" for i in range(25)], 3) == (seen, pages)


def test_search_returns_full_run_info(runs: SQLStore) -> None:
    page = runs.search_runs(filter="attributes.run_id = 'a'")

    run = page.runs[0]

    assert (
        page.next_page_token,
        run.experiment,
        run.name,
        run.status,
        run.start_ns,
        run.end_ns,
    ) == (None, "exp", "alpha run", "Completed", 100, 150)
    assert (run.tags, run.params) == ({"team": "ml-core"}, {"alpha": "0.5"})
    assert [(m.name, m.last) for m in run.metrics] == [
        ("Cosine Wave", 0.25),
        ("mse", 1.5),
        ("note", "text"),
    ]


def test_search_loads_many_runs(store: SQLStore) -> None:
    ops: list[Op] = []
    for i in range(1200):
        ops += [EnsureRun(f"r{i}", "exp", i), SetTag(f"r{i}", "i", str(i)), metric(f"r{i}", "m", i)]
    store.apply([ops])

    page = store.search_runs(max_results=2000, order_by=["metrics.m ASC"])

    assert [str(i) for i in range(1200)] == [run.tags["i"] for run in page.runs]
    assert [float(i) for i in range(1200)] == [run.metrics[0].last for run in page.runs]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"filter": "metrics.x <"}, "missing value"),
        ({"order_by": ["metrics.x SIDEWAYS"]}, "unknown sort direction"),
        ({"max_results": 0}, "between 1 and 10000"),
        ({"max_results": 10_001}, "between 1 and 10000"),
        ({"page_token": "not-a-token"}, "not a token this store issued"),
        ({"page_token": "eyJvZmZzZXQiOiAtMX0="}, "not a token this store issued"),
    ],
)
def test_bad_search_arguments(store: SQLStore, kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(FilterError, match=message):
        store.search_runs(**kwargs)  # type: ignore[arg-type]  # each bad on purpose
