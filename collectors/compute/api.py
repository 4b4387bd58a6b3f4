"""HTTP routes of submitted runs: snapshots, submit, cancel, queues, targets, status history.

Shapes are in docs/api.md. Submitting runs code on the collector's host: like every route
it needs the collector's token when one is set, and the collector refuses to listen beyond
loopback without one (`Settings.check`); ``--no-local-execution`` refuses the local target.
"""

from __future__ import annotations

import time
from collections import Counter
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import FileResponse
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from collectors.compute import schemas
from collectors.compute.environments import EnvironmentSpec
from collectors.compute.service import ComputeService, Submission, SubmitRefused
from collectors.compute.snapshots import DIGEST, MAX_UPLOAD_BYTES
from collectors.ops import AddSnapshot
from collectors.read.query_api import check_run_id, json_response
from collectors.store.base import SubmissionInfo
from collectors.store.protocols import ACTIVE, QUEUED
from collectors.web.errors import FORBIDDEN, TOO_LARGE, ApiError, invalid, not_found
from collectors.web.routes import add_create, add_download, api_router
from runlog import conventions as c
from runlog import snapshot

#: The media type of a source snapshot (uploaded and downloaded as a zip).
ZIP = "application/zip"

_MAX_ARGUMENTS = 1000


class SubmitRequest(BaseModel):
    """Body of ``POST /api/v1/compute/runs``."""

    experiment: str = Field(description="experiment of the new run")
    script: str = Field(description="path of the script inside the snapshot, e.g. train.py")
    snapshot: str = Field(description="digest of an uploaded snapshot")
    target: str = Field("local", description="compute target, see /api/v1/compute/targets")
    arguments: list[str] = Field(default_factory=list, description="the script's arguments")
    environment: dict[str, Any] | None = Field(None, description="see docs/api.md")
    run_id: str | None = Field(None, description="id of the new run (default: generated)")
    name: str | None = Field(None, description="display name (default: the script)")
    tags: dict[str, str] = Field(default_factory=dict)


class ComputeApi:
    """Routes under ``/api/v1/compute``, ``/api/v1/snapshots`` and a run's lifecycle."""

    def __init__(self, service: ComputeService, disabled: dict[str, str] | None = None) -> None:
        self.service = service
        self.disabled = disabled or {}

    def router(self) -> APIRouter:
        """An `APIRouter` with the compute routes."""
        router = api_router("compute")
        add = router.add_api_route
        add("/compute/targets", self.targets, response_model=schemas.TargetList)
        add("/compute/queue", self.queue, response_model=schemas.SubmissionList)
        add("/compute/finished", self.finished, response_model=schemas.SubmissionList)
        add_create(router, "/compute/runs", self.submit, schemas.Submission)
        add("/runs/{run_id}/cancel", self.cancel, methods=["POST"], response_model=schemas.Cancel)
        add("/runs/{run_id}/submission", self.submission, response_model=schemas.Submission)
        add(
            "/snapshots/{digest}",
            self.snapshot_exists,
            methods=["HEAD"],
            responses={200: {"description": "the snapshot is stored"}},
        )
        snapshot = "/snapshots/{digest}"
        add_download(router, snapshot, self.download_snapshot, ZIP, response_class=FileResponse)
        add_create(router, snapshot, self.upload_snapshot, schemas.Snapshot, "PUT", ZIP)
        return router

    # --- targets and queues --------------------------------------------------------------
    def targets(self) -> Response:
        """The compute targets of this collector, with queued and running counts."""
        found = self.service.describe_targets()
        for name, reason in self.disabled.items():
            found.append({"name": name, "kind": name, "max_running": 0, "disabled": reason})
        return json_response({"targets": found})

    def queue(
        self, target: Annotated[str | None, Query(description="only this target")] = None
    ) -> Response:
        """Queued and running submitted runs, in queue order."""
        try:
            found = self.service.queue(target)
        except SubmitRefused as exc:
            raise invalid(str(exc)) from None
        return json_response({"runs": _with_positions(found)})

    def finished(
        self,
        target: Annotated[str | None, Query(description="only this target")] = None,
        limit: Annotated[int, Query(ge=1, le=1000, description="at most this many")] = 20,
    ) -> Response:
        """Submitted runs that have ended (Completed, Failed, Canceled), newest first."""
        try:
            found = self.service.finished(target, limit)
        except SubmitRefused as exc:
            raise invalid(str(exc)) from None
        return json_response({"runs": [submission_json(sub) for sub in found]})

    # --- submit and cancel ----------------------------------------------------------------
    def submit(self, body: SubmitRequest) -> Response:
        """Queue a script of an uploaded snapshot as a new run (status Queued)."""
        if body.target in self.disabled:
            raise ApiError(FORBIDDEN, self.disabled[body.target])
        request = _submission(body)
        try:
            self.service.submit(request)
        except SubmitRefused as exc:
            raise invalid(str(exc)) from None
        return self._submission_response(request.run_id, 201)

    def cancel(self, run_id: str) -> Response:
        """Cancel a submitted run (a queued one at once; a running one is stopped)."""
        check_run_id(run_id)
        if self.service.context.store.get_submission(run_id) is None:
            raise not_found(f"run {run_id!r} was not submitted to a compute target")
        try:
            status = self.service.cancel(run_id)
        except SubmitRefused as exc:
            raise invalid(str(exc)) from None
        return json_response({"run_id": run_id, "status": status})

    def submission(self, run_id: str) -> Response:
        """How a submitted run was submitted, where it is in its queue, its status history."""
        check_run_id(run_id)
        return self._submission_response(run_id, 200)

    def _submission_response(self, run_id: str, code: int) -> Response:
        store = self.service.context.store
        found = store.get_submission(run_id)
        if found is None:
            raise not_found(f"run {run_id!r} was not submitted to a compute target")
        waiting = store.list_submissions([QUEUED, ACTIVE], found.target)
        positions = _with_positions(waiting)
        position = next((p["position"] for p in positions if p["run_id"] == run_id), None)
        body = submission_json(found, position)
        body["statuses"] = [
            {"status": s.status, "time_ns": s.time_ns} for s in store.status_history(run_id)
        ]
        response = json_response(body)
        response.status_code = code
        return response

    # --- snapshots ---------------------------------------------------------------------------
    def _checked_digest(self, digest: str) -> str:
        if not DIGEST.fullmatch(digest):
            raise invalid(f"snapshot id {digest[:80]!r} must be 64 lowercase hex digits (SHA-256)")
        return digest

    def snapshot_exists(self, digest: str) -> Response:
        """200 when the snapshot is stored, 404 when it must be uploaded."""
        if not self.service.context.snapshots.exists(self._checked_digest(digest)):
            raise not_found(f"snapshot {digest} is not stored; upload it with PUT")
        return Response(status_code=200)

    def download_snapshot(self, digest: str) -> Response:
        """The snapshot's zip."""
        snapshots = self.service.context.snapshots
        if not snapshots.exists(self._checked_digest(digest)):
            raise not_found(f"snapshot {digest} is not stored")
        return FileResponse(snapshots.path(digest), media_type=ZIP, filename=f"{digest}.zip")

    async def upload_snapshot(self, digest: str, request: Request) -> Response:
        """Store a snapshot zip under its content digest (checked against its contents)."""
        ctx = self.service.context
        self._checked_digest(digest)
        stream, path = ctx.snapshots.temporary()
        size = 0
        try:
            with stream:
                async for chunk in request.stream():
                    size += len(chunk)
                    if size > MAX_UPLOAD_BYTES:
                        raise ApiError(TOO_LARGE, f"snapshot exceeds {MAX_UPLOAD_BYTES} bytes")
                    await run_in_threadpool(stream.write, chunk)
            kept = await run_in_threadpool(ctx.snapshots.keep, path, digest)
        except snapshot.SnapshotError as exc:
            raise invalid(str(exc)) from None
        finally:
            path.unlink(missing_ok=True)
        op = AddSnapshot(digest, kept.size, kept.file_count, time.time_ns())
        await run_in_threadpool(ctx.apply, [op])
        body = {"digest": digest, "size": kept.size, "file_count": kept.file_count}
        response = json_response(body)
        response.status_code = 201
        return response


def _submission(body: SubmitRequest) -> Submission:
    from runlog.run import new_run_id

    for what, name in (("experiment name", body.experiment), ("target", body.target)):
        problem = c.check_name(what, name)
        if problem:
            raise invalid(problem)
    if not DIGEST.fullmatch(body.snapshot):
        raise invalid("snapshot must be the 64 hex digits of an uploaded snapshot")
    try:
        script = snapshot.check_script(body.script)
        environment = EnvironmentSpec.from_json(body.environment)
    except ValueError as exc:
        raise invalid(str(exc)) from None
    if len(body.arguments) > _MAX_ARGUMENTS or any(
        len(a) > c.MAX_VALUE_LENGTH or "\0" in a for a in body.arguments
    ):
        raise invalid(f"at most {_MAX_ARGUMENTS} arguments of at most 8192 characters, no NUL")
    for key, value in body.tags.items():
        problem = c.check_name("tag key", key)
        if problem or len(value) > c.MAX_VALUE_LENGTH:
            raise invalid(problem or f"tag {key!r} is longer than {c.MAX_VALUE_LENGTH} characters")
    run_id = body.run_id or new_run_id(body.experiment)
    if not c.is_valid_run_id(run_id):
        raise invalid(f"invalid run id {run_id[:80]!r}: expected 1-64 of [A-Za-z0-9_.-]")
    return Submission(
        experiment=body.experiment,
        target=body.target,
        snapshot=body.snapshot,
        script=script,
        arguments=tuple(body.arguments),
        environment=environment,
        run_id=run_id,
        name=body.name or script.rsplit("/", 1)[-1],
        tags=tuple(body.tags.items()),
    )


def submission_json(sub: SubmissionInfo, position: int | None = None) -> dict[str, Any]:
    """A submitted run as the API shows it."""
    return {
        "run_id": sub.run_id,
        "experiment": sub.experiment,
        "name": sub.name,
        "status": sub.status,
        "target": sub.target,
        "state": sub.state,
        "position": position,
        "script": sub.script,
        "arguments": sub.arguments,
        "environment": sub.environment,
        "snapshot": sub.snapshot,
        "queued_ns": sub.queued_ns,
        "claimed_ns": sub.claimed_ns,
        "cancel_ns": sub.cancel_ns,
        "done_ns": sub.done_ns,
        "job_id": sub.job_id,
    }


def _with_positions(found: list[SubmissionInfo]) -> list[dict[str, Any]]:
    counters: Counter[str] = Counter()
    out = []
    for sub in found:
        position = None
        if sub.state == QUEUED:
            counters[sub.target] += 1
            position = counters[sub.target]
        out.append(submission_json(sub, position))
    return out
