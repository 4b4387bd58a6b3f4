"""The studio's own endpoints: experiment overview, the runs table, tag edits, live events.

Everything else the pages show comes from the query and files API (docs/api.md). These
routes carry the collector's token check like every other ``/api/v1`` route.
"""

from __future__ import annotations

import asyncio
from dataclasses import asdict, fields
from typing import Annotated, Any

from fastapi import APIRouter, Body, Query, Response
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, Field

from collectors.ops import DeleteTag, Op, SetTag
from collectors.read import encoding as enc
from collectors.read.query_api import (
    check_run_id,
    json_response,
    run_not_found,
    without_deleted,
)
from collectors.store.base import RunTable
from collectors.store.protocols import StudioStore
from collectors.studio.events import EventHub
from collectors.web.errors import UNAVAILABLE, ApiError, invalid
from collectors.web.routes import add_download, api_router
from collectors.writer import Writer, WriterError
from runlog import conventions as c
from runlog.filters import Comparison, Key, conjoin, parse_filter

PREFIX = c.API_PREFIX + "/studio"
_COMMIT_TIMEOUT_S = 30.0
_TOP_LEVEL = Comparison(Key("attribute", "parent_id"), "IS NULL", None)


class TagEdit(BaseModel):
    """Tags to set and tags to remove, in one commit."""

    set: dict[str, str] = Field(default_factory=dict, description="key: new value")
    delete: list[str] = Field(default_factory=list, description="keys to remove")


class StudioApi:
    """Routes under ``/api/v1/studio`` and the tag edit route of a run."""

    def __init__(self, store: StudioStore, writer: Writer, hub: EventHub) -> None:
        self.store = store
        self.writer = writer
        self.hub = hub

    def router(self) -> APIRouter:
        """An `APIRouter` with the studio's data routes."""
        router = api_router("studio", prefix="")
        router.add_api_route(PREFIX + "/experiments", self.experiments)
        router.add_api_route(PREFIX + "/table", self.table)
        add_download(router, PREFIX + "/events", self.events, "text/event-stream")
        router.add_api_route(
            c.API_PREFIX + "/runs/{run_id}/tags", self.edit_tags, methods=["PATCH"]
        )
        return router

    def experiments(self) -> Response:
        """Experiments not deleted, each with its runs counted by status."""
        counts = self.store.status_counts()
        found = [e for e in self.store.list_experiments() if not e.deleted]
        out = [{**asdict(e), "status_counts": counts.get(e.name, {})} for e in found]
        return json_response({"experiments": out})

    def table(
        self,
        experiment: Annotated[list[str] | None, Query(description="repeatable")] = None,
        filter: Annotated[str, Query(description="the filter language of /api/v1/runs")] = "",
        order_by: Annotated[list[str] | None, Query(description="e.g. metrics.mse ASC")] = None,
        children: Annotated[bool, Query(description="also child runs")] = True,
        max_results: Annotated[int, Query(ge=1, le=10000)] = 10000,
        page_token: str | None = None,
    ) -> Response:
        """Runs matching a search as columns: run fields, tags, params, last metric values."""
        try:
            parsed = without_deleted(parse_filter(filter))
            if not children:
                parsed = conjoin(parsed, _TOP_LEVEL)
            table = self.store.run_table(
                experiment or None, parsed, order_by or (), max_results, page_token
            )
        except ValueError as exc:  # FilterError, or a page token that does not parse
            raise invalid(str(exc)) from None
        return json_response(_table_json(table))

    async def events(self) -> StreamingResponse:
        """Server-sent events: what the writer committed, about every 0.1 s while it writes."""
        headers = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
        return StreamingResponse(self.hub.stream(), media_type="text/event-stream", headers=headers)

    async def edit_tags(self, run_id: str, edit: Annotated[TagEdit, Body()]) -> Response:
        """Set and remove tags of a run; answers its tags once committed."""
        check_run_id(run_id)
        run = await asyncio.to_thread(self.store.get_run, run_id)
        if run is None:
            raise run_not_found(run_id)
        ops = _tag_ops(run_id, edit)
        try:
            applied = await asyncio.wrap_future(self.writer.submit(ops))
        except WriterError as exc:
            raise ApiError(UNAVAILABLE, str(exc)) from None
        if applied.errors:
            raise invalid("; ".join(applied.errors))
        changed = await asyncio.to_thread(self.store.get_run, run_id)
        return json_response({"tags": changed.tags if changed else {}})


def _tag_ops(run_id: str, edit: TagEdit) -> list[Op]:
    for key, value in edit.set.items():
        problem = c.check_name("tag key", key)
        if problem is None and len(value) > c.MAX_VALUE_LENGTH:
            problem = f"tag {key!r} is {len(value)} characters; the limit is {c.MAX_VALUE_LENGTH}"
        if problem:
            raise invalid(problem)
    if not edit.set and not edit.delete:
        raise invalid("nothing to change: give tags in 'set' or keys in 'delete'")
    ops: list[Op] = [DeleteTag(run_id, key) for key in edit.delete if key not in edit.set]
    ops += [SetTag(run_id, key, value) for key, value in edit.set.items()]
    return ops


def _table_json(table: RunTable) -> dict[str, Any]:
    # Not dataclasses.asdict: it deep-copies every column (seconds for 10,000 runs).
    out = {f.name: getattr(table, f.name) for f in fields(table)}
    out["metrics"] = {name: enc.json_values(values) for name, values in table.metrics.items()}
    return out
