"""The read side of the HTTP API: experiments, runs, metrics, log lines and spans.

Shapes and parameters are specified in docs/api.md. Handlers are plain functions (FastAPI
runs them in its thread pool, so blocking store calls do not stall the event loop) and
answer pre-encoded JSON (`collectors.read.encoding`).
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Response

from collectors.convert import min_level_number
from collectors.read import encoding as enc
from collectors.read import schemas
from collectors.store.base import MetricVector
from collectors.store.protocols import QueryStore
from collectors.web.errors import invalid, not_found
from collectors.web.routes import api_router
from runlog import conventions as c
from runlog.filters import Comparison, Filter, Key, comparisons, conjoin, parse_filter


class JsonBytes(Response):
    """A JSON response whose body is already encoded."""

    media_type = "application/json"


def json_response(obj: Any) -> Response:
    """Encode *obj* (non-finite floats already strings) as a JSON response."""
    return JsonBytes(enc.dumps(obj))


def check_run_id(run_id: str) -> str:
    """Return *run_id*, or raise a 400 explaining the run id format."""
    if not c.is_valid_run_id(run_id):
        raise invalid(f"invalid run id {run_id[:80]!r}: expected 1-64 of [A-Za-z0-9_.-]")
    return run_id


def run_not_found(run_id: str) -> Exception:
    """The 404 for an unknown run."""
    return not_found(f"run {run_id!r} does not exist; list runs with `runlog runs`")


_INCLUDE_DELETED = "also list what was deleted through MLflow (their `deleted` is true)"
_LIFECYCLE = Key("attribute", "lifecycle_stage")
_ACTIVE = Comparison(_LIFECYCLE, "=", "active")


def without_deleted(filter: Filter) -> Filter:
    """*filter* restricted to runs not deleted, unless it names the lifecycle stage."""
    if any(comparison.key == _LIFECYCLE for comparison in comparisons(filter)):
        return filter
    return conjoin(filter, _ACTIVE)


class QueryApi:
    """Routes of ``/api/v1`` that read the store."""

    def __init__(self, store: QueryStore) -> None:
        self.store = store

    def router(self) -> APIRouter:
        """An `APIRouter` with every query route."""
        router = api_router("query")
        add = router.add_api_route
        add("/experiments", self.list_experiments, response_model=schemas.ExperimentList)
        add("/experiments/{name:path}", self.get_experiment, response_model=schemas.Experiment)
        add("/runs", self.search_runs, response_model=schemas.RunList)
        add("/runs/{run_id}", self.get_run, response_model=schemas.Run)
        add("/runs/{run_id}/metrics", self.list_metrics, response_model=schemas.MetricSummaryList)
        add("/runs/{run_id}/statuses", self.statuses, response_model=schemas.StatusList)
        add(
            "/runs/{run_id}/metric",
            self.get_metric,
            response_model=schemas.MetricVector,
            responses={200: {"content": {enc.BINARY_MEDIA_TYPE: {}}}},
        )
        add("/runs/{run_id}/logs", self.get_logs, response_model=schemas.LogLines)
        add("/runs/{run_id}/spans", self.list_spans, response_model=schemas.SpanList)
        return router

    def list_experiments(
        self,
        include_deleted: Annotated[bool, Query(description=_INCLUDE_DELETED)] = False,
    ) -> Response:
        """All experiments, with counts of their runs that are not deleted."""
        found = self.store.list_experiments()
        experiments = [enc.experiment_json(e) for e in found if include_deleted or not e.deleted]
        return json_response({"experiments": experiments})

    def get_experiment(self, name: str) -> Response:
        """One experiment by name."""
        found = self.store.get_experiment(name)
        if found is None:
            raise not_found(f"experiment {name!r} does not exist; list them at /api/v1/experiments")
        return json_response(enc.experiment_json(found))

    def search_runs(
        self,
        experiment: Annotated[list[str] | None, Query(description="repeatable")] = None,
        filter: Annotated[str, Query(description="e.g. metrics.mse < 3 and params.a = '1'")] = "",
        order_by: Annotated[list[str] | None, Query(description="e.g. metrics.mse ASC")] = None,
        max_results: Annotated[int, Query(ge=1, le=10000)] = 100,
        page_token: str | None = None,
        include_deleted: Annotated[bool, Query(description=_INCLUDE_DELETED)] = False,
    ) -> Response:
        """Search runs with an MLflow-style filter, ordering and paging."""
        try:
            parsed = parse_filter(filter)
            page = self.store.search_runs(
                experiment or None,
                parsed if include_deleted else without_deleted(parsed),
                order_by or (),
                max_results,
                page_token,
            )
        except ValueError as exc:  # FilterError, or a page token that does not parse
            raise invalid(str(exc)) from None
        runs = [enc.run_json(r) for r in page.runs]
        return json_response({"runs": runs, "next_page_token": page.next_page_token})

    def get_run(self, run_id: str) -> Response:
        """One run with its tags, params, properties and metric summaries."""
        run = self.store.get_run(check_run_id(run_id))
        if run is None:
            raise run_not_found(run_id)
        return json_response(enc.run_json(run))

    def statuses(self, run_id: str) -> Response:
        """Every status the run had, with its time (any run, submitted or not)."""
        history = self.store.status_history(check_run_id(run_id))
        if not history and self.store.get_run(run_id) is None:
            raise run_not_found(run_id)
        return json_response(
            {"statuses": [{"status": s.status, "time_ns": s.time_ns} for s in history]}
        )

    def list_metrics(self, run_id: str) -> Response:
        """Summaries (last, min, max, count) of every metric column of a run."""
        run = self.store.get_run(check_run_id(run_id))
        if run is None:
            raise run_not_found(run_id)
        return json_response({"metrics": [enc.summary_json(m) for m in run.metrics]})

    def get_metric(
        self,
        run_id: str,
        name: Annotated[str, Query(description="metric name")],
        column: Annotated[str, Query(description="'' for scalar metrics")] = "",
        max_points: Annotated[int | None, Query(ge=2, le=1_000_000)] = None,
        format: Literal["json", "binary"] = "json",
        x: Annotated[Literal["step", "time"], Query(description="axis of start/end")] = "step",
        start: Annotated[int | None, Query(description="first step or time (ns) kept")] = None,
        end: Annotated[int | None, Query(description="last step or time (ns) kept")] = None,
    ) -> Response:
        """One metric column: all points, or at most *max_points* (min/max per bucket).

        With *start* and/or *end*, only the points whose step (or time, ``x=time``) lies
        within them: what a chart reads when it zooms in.
        """
        run_id = check_run_id(run_id)
        if start is None and end is None:
            vector, downsampled = self._read_vector(run_id, name, column, max_points)
        else:
            bounds = (c.INT64_MIN if start is None else start, c.INT64_MAX if end is None else end)
            window = self.store.read_metric_window(run_id, name, column, x, bounds, max_points)
            if window is None:
                raise self._no_metric(run_id, name, column)
            vector, downsampled = window
        if format == "binary" and enc.is_binary_encodable(vector):
            headers = enc.vector_headers(vector)
            headers[c.HEADER_DOWNSAMPLED] = "true" if downsampled else "false"
            body = enc.vector_binary(vector)
            return Response(body, media_type=enc.BINARY_MEDIA_TYPE, headers=headers)
        return json_response(enc.vector_json(vector, downsampled))

    def _read_vector(
        self, run_id: str, name: str, column: str, max_points: int | None
    ) -> tuple[MetricVector, bool]:
        vector = self.store.read_metric(run_id, name, column) if max_points is None else None
        downsampled = False
        if max_points is not None:
            try:
                vector = self.store.read_metric_downsampled(run_id, name, column, max_points)
            except ValueError:  # str or mixed values: no min/max, answer every point
                vector = self.store.read_metric(run_id, name, column)
            else:
                full = self._count(run_id, name, column)
                downsampled = vector is not None and full is not None and len(vector.steps) < full
        if vector is None:
            raise self._no_metric(run_id, name, column)
        return vector, downsampled

    def _no_metric(self, run_id: str, name: str, column: str) -> Exception:
        if self.store.get_run(run_id) is None:
            return run_not_found(run_id)
        return not_found(
            f"run {run_id!r} has no metric {name!r} (column {column!r}); "
            f"see /api/v1/runs/{run_id}/metrics"
        )

    def get_logs(
        self,
        run_id: str,
        after_seq: Annotated[
            int, Query(ge=0, le=c.INT64_MAX, description="last seq already seen")
        ] = 0,
        limit: Annotated[int, Query(ge=1, le=10000)] = 1000,
        level: Annotated[
            str | None, Query(description="TRACE, DEBUG, INFO, WARN, ERROR or FATAL")
        ] = None,
    ) -> Response:
        """A page of the run's log lines after *after_seq*, at *level* or above."""
        check_run_id(run_id)
        try:
            lowest = 0 if level is None else min_level_number(level)
        except ValueError as exc:
            raise invalid(str(exc)) from None
        lines = self.store.read_logs(run_id, after_seq, limit, lowest)
        if not lines and self.store.get_run(run_id) is None:
            raise run_not_found(run_id)
        next_seq = lines[-1].seq if lines else after_seq
        return json_response({"lines": [asdict(line) for line in lines], "next_seq": next_seq})

    def list_spans(self, run_id: str) -> Response:
        """The run's timeline: its spans, by start time."""
        spans = self.store.list_spans(check_run_id(run_id))
        if not spans and self.store.get_run(run_id) is None:
            raise run_not_found(run_id)
        return json_response({"spans": [asdict(span) for span in spans]})

    def _count(self, run_id: str, name: str, column: str) -> int | None:
        for summary in self.store.list_metrics(run_id):
            if summary.name == name and summary.column == column:
                return summary.count
        return None
