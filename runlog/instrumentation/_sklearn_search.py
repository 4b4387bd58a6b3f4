"""A hyperparameter search (``GridSearchCV``, ``RandomizedSearchCV``) as a parent run.

The search's own run gets the best candidate's params as ``best_<param>``, the best score
as ``best_score``, and the whole ``cv_results_`` as the table ``cv_results``. Candidates
become child runs (all, or the *k* best by rank: ``max_tuning_runs``), each with its params
and its row's numbers (mean/std test score, rank, fit and score times, split scores).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from runlog._objects import Run
from runlog.instrumentation._sklearn_fit import FitRecord, finish, loggable


def log_search(record: FitRecord, search: Any, max_runs: int | None) -> None:
    """Log *search*'s best candidate, results table and candidate child runs."""
    results: Mapping[str, Any] = search.cv_results_
    run = record.run
    best = getattr(search, "best_params_", None) or {}
    best_params = {f"best_{k}": loggable(v) for k, v in best.items()}
    record.results.update(best_params)  # copied with the rest if the run becomes a sweep
    run.log_params(best_params)
    if hasattr(search, "best_score_"):
        record.log_metric("best_score", float(search.best_score_))
    run.log_table("cv_results", results_table(results))
    for index in top_candidates(results, _rank_column(search, results), max_runs):
        _candidate_run(run, f"candidate_{index}", results, index)


def results_table(results: Mapping[str, Any]) -> dict[str, list[Any]]:
    """``cv_results_`` as table columns: numbers as numbers, params and objects as text."""
    table: dict[str, list[Any]] = {}
    for name, column in results.items():
        values = column.tolist() if hasattr(column, "tolist") else list(column)
        if _numeric(column):
            table[name] = values
        else:
            table[name] = [
                loggable(v) if not isinstance(v, dict) else _params_text(v) for v in values
            ]
    return table


def top_candidates(results: Mapping[str, Any], rank_column: str, limit: int | None) -> list[int]:
    """Candidate indexes by rank (best first, ties in order), at most *limit* of them."""
    ranks = np.asarray(results[rank_column])
    order = np.argsort(ranks, kind="stable")
    return [int(i) for i in (order if limit is None else order[:limit])]


def _rank_column(search: Any, results: Mapping[str, Any]) -> str:
    refit = getattr(search, "refit", True)
    if isinstance(refit, str) and f"rank_test_{refit}" in results:
        return f"rank_test_{refit}"
    if "rank_test_score" in results:
        return "rank_test_score"
    return next(name for name in results if name.startswith("rank_test_"))


def _candidate_run(parent: Run, name: str, results: Mapping[str, Any], index: int) -> None:
    child = parent.child_run(name=name)
    child.log_params({k: loggable(v) for k, v in results["params"][index].items()})
    for column, values in results.items():
        if _numeric(values) and not np.ma.is_masked(values[index]):
            child.log(column, values[index].item())
    finish(child)


def _numeric(column: Any) -> bool:
    dtype = getattr(column, "dtype", None)
    return dtype is not None and dtype.kind in "biuf"


def _params_text(params: dict[str, Any]) -> str:
    return str(loggable(", ".join(f"{k}={loggable(v)}" for k, v in params.items())))
