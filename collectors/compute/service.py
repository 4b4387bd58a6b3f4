"""The compute service: submitted runs, the persistent queue of each target, its workers.

A submission becomes a run (NotStarted, then Queued) and a row in its target's queue, both
written through the collector's single writer. One dispatcher thread per target takes
queued runs in order (`ClaimRun`, refused if the run was canceled or taken meanwhile) while
the target has a free slot, and hands them to the target, which prepares and starts them.
The queue lives in the store: a restarted collector finds its queued runs still queued,
and gives its active runs back to their target to adopt or resolve (`Target.resume`).
"""

from __future__ import annotations

import logging
import os
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from collectors.compute.environments import EnvironmentCache, EnvironmentSpec
from collectors.compute.snapshots import SnapshotStore
from collectors.ops import (
    AdvanceStatus,
    AppendLogLines,
    CancelRun,
    ClaimRun,
    LogLine,
    Op,
    RecordFile,
    SetTag,
    SubmitRun,
)
from collectors.read.run_files import Uploads
from collectors.store.base import SubmissionInfo
from collectors.store.files import FileStore
from collectors.store.protocols import ACTIVE, DONE, QUEUED, ComputeStore
from collectors.writer import Writer
from runlog import conventions as c
from runlog.snapshot import FILE_NAME

logger = logging.getLogger(__name__)
#: The logger name of the lines the collector adds to a submitted run's log.
COMPUTE_LOGGER = "runlog.compute"
ENVIRONMENT_LOGGER = "runlog.environment"


class SubmitRefused(ValueError):
    """A submission or cancel the collector refuses (the message says why)."""


@dataclass(slots=True)
class Context:
    """What every target shares: the store, the writer, snapshots, environments, where runs
    send their data (``endpoint`` and ``token``) and where their files go on this host."""

    store: ComputeStore
    writer: Writer
    files: FileStore
    uploads: Uploads
    snapshots: SnapshotStore
    environments: EnvironmentCache
    endpoint: str
    token: str | None
    runs_dir: Path
    collector_id: str
    cancel_grace_s: float = 10.0

    def apply(self, ops: Sequence[Op]) -> list[str]:
        """Commit *ops* through the writer; return the store's refusals."""
        return self.writer.submit(ops).result().errors

    def log(self, run_id: str, message: str, logger_name: str = COMPUTE_LOGGER) -> None:
        """Add one line to the run's log (what the collector did for it)."""
        line = LogLine(time.time_ns(), 9, "INFO", logger_name, message)
        self.apply([AppendLogLines(run_id, (line,))])

    def advance(
        self, run_id: str, status: str, error: str | None = None, done: bool = False
    ) -> None:
        """Move the run forward in its lifecycle (see `AdvanceStatus`)."""
        self.apply([AdvanceStatus(run_id, status, time.time_ns(), error, done)])

    def run_dir(self, run_id: str) -> Path:
        """This host's folder for one run: working copy, spool, supervisor output."""
        return self.runs_dir / run_id

    def run_variables(self, sub: SubmissionInfo) -> dict[str, str]:
        """The variables that make a process log into the run (as `Run.otel_environment`)."""
        from urllib.parse import quote

        attributes = {c.RUN_ID: sub.run_id, c.EXPERIMENT: sub.experiment}
        variables = {
            "OTEL_RESOURCE_ATTRIBUTES": ",".join(
                f"{k}={quote(v, safe='')}" for k, v in attributes.items()
            ),
            "OTEL_EXPORTER_OTLP_ENDPOINT": self.endpoint,
            "OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf",
            c.ENV_ENDPOINT: self.endpoint,
            c.ENV_RUN_ID: sub.run_id,
            c.ENV_EXPERIMENT: sub.experiment,
        }
        if self.token:
            variables[c.ENV_TOKEN] = self.token
            variables["OTEL_EXPORTER_OTLP_HEADERS"] = f"authorization=Bearer%20{self.token}"
        return variables


class Target:
    """A compute target: where claimed runs run. Subclasses implement the `start`,
    `cancel` and `resume` hooks; the dispatcher calls them from its thread."""

    kind = "target"

    def __init__(self, name: str, max_running: int, context: Context) -> None:
        self.name = name
        self.max_running = max_running
        self.context = context
        self.wake = threading.Event()
        self._active: dict[str, Any] = {}
        self._lock = threading.Lock()

    def running(self) -> int:
        """Runs of this target being prepared or running now."""
        with self._lock:
            return len(self._active)

    def free_slots(self) -> int:
        """How many more runs may start now."""
        return self.max_running - self.running()

    def describe(self) -> dict[str, Any]:
        """The target as `GET /api/v1/compute/targets` shows it."""
        return {"name": self.name, "kind": self.kind, "max_running": self.max_running}

    def start(self, sub: SubmissionInfo) -> None:
        """Prepare and start the claimed run *sub* (without blocking the dispatcher)."""
        raise NotImplementedError

    def cancel(self, sub: SubmissionInfo) -> None:
        """Stop the active run *sub*; its status becomes Canceled."""
        raise NotImplementedError

    def resume(self, sub: SubmissionInfo) -> None:
        """Take over an active run found at start (it was active when the collector died)."""
        raise NotImplementedError

    def stop(self) -> None:
        """The collector is shutting down: stop watching (runs themselves go on)."""

    def _track(self, run_id: str, value: Any) -> None:
        with self._lock:
            self._active[run_id] = value

    def _track_in_thread(
        self, sub: SubmissionInfo, value: Any, work: Callable[[SubmissionInfo, Any], None]
    ) -> None:
        """Track *value* as the run's state and call ``work(sub, value)`` in a new thread."""
        self._track(sub.run_id, value)
        name = f"runlog-{self.kind}-{sub.run_id}"
        threading.Thread(target=work, args=(sub, value), name=name, daemon=True).start()

    def cancel_requested(self, run_id: str) -> bool:
        """Whether a cancel of the run was recorded (it may predate this target's tracking)."""
        found = self.context.store.get_submission(run_id)
        return found is not None and found.cancel_ns is not None

    def _untrack(self, run_id: str) -> None:
        with self._lock:
            self._active.pop(run_id, None)
        self.wake.set()

    def _tracked(self, run_id: str) -> Any:
        with self._lock:
            return self._active.get(run_id)


class Dispatcher:
    """Takes a target's queued runs in order while it has free slots."""

    def __init__(self, target: Target) -> None:
        self.target = target
        self._stopping = False
        self._thread = threading.Thread(
            target=self._loop, name=f"runlog-compute-{target.name}", daemon=True
        )

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stopping = True
        self.target.wake.set()
        self._thread.join(5)

    def _loop(self) -> None:
        target, ctx = self.target, self.target.context
        try:
            self._resume_active()
        except Exception:
            logger.exception("compute target %s could not resume its active runs", target.name)
        while not self._stopping:
            target.wake.wait(1.0)
            target.wake.clear()
            try:
                self._dispatch(ctx)
            except Exception:  # a bug here must not stop the queue for good
                logger.exception("compute target %s: dispatching failed", target.name)

    def _resume_active(self) -> None:
        ctx = self.target.context
        for sub in ctx.store.list_submissions([ACTIVE], self.target.name, ctx.collector_id):
            logger.info("compute target %s resumes run %s", self.target.name, sub.run_id)
            self.target.resume(sub)

    def _dispatch(self, ctx: Context) -> None:
        while not self._stopping and self.target.free_slots() > 0:
            queued = ctx.store.list_submissions([QUEUED], self.target.name, ctx.collector_id, 1)
            if not queued:
                return
            sub = queued[0]
            if ctx.apply([ClaimRun(sub.run_id, time.time_ns())]):
                continue  # canceled or taken meanwhile
            claimed = ctx.store.get_submission(sub.run_id)
            if claimed is not None:
                self.target.start(claimed)


def collector_id(data_dir: Path) -> str:
    """This collector's id, kept in its data directory: the queue rows it owns."""
    path = data_dir / "compute" / "collector-id"
    try:
        return path.read_text().strip()
    except FileNotFoundError:
        path.parent.mkdir(parents=True, exist_ok=True)
        found = f"{os.uname().nodename}-{uuid.uuid4().hex[:12]}"
        path.write_text(found + "\n")
        return found


@dataclass(frozen=True, slots=True)
class Submission:
    """A submission as the API received it (checked by `ComputeService.submit`)."""

    experiment: str
    target: str
    snapshot: str
    script: str
    arguments: tuple[str, ...]
    environment: EnvironmentSpec
    run_id: str
    name: str | None = None
    tags: tuple[tuple[str, str], ...] = ()


class ComputeService:
    """The targets of this collector and what the API asks of them."""

    def __init__(self, context: Context, targets: Sequence[Target]) -> None:
        self.context = context
        self.targets = {t.name: t for t in targets}
        self._dispatchers = [Dispatcher(t) for t in targets]

    def start(self) -> None:
        """Start one dispatcher per target (it first resumes the target's active runs)."""
        for dispatcher in self._dispatchers:
            dispatcher.start()

    def stop(self) -> None:
        """Stop dispatching; runs that are running go on and are resumed at the next start."""
        for dispatcher in self._dispatchers:
            dispatcher.stop()
        for target in self.targets.values():
            target.stop()

    def target(self, name: str) -> Target:
        """The target *name*; raise `SubmitRefused` naming the known ones."""
        found = self.targets.get(name)
        if found is None:
            known = ", ".join(sorted(self.targets)) or "none (local execution is off)"
            raise SubmitRefused(f"unknown compute target {name!r}; this collector has: {known}")
        return found

    def submit(self, request: Submission) -> None:
        """Queue *request* as a new run; raise `SubmitRefused` when it cannot be."""
        target = self.target(request.target)
        ctx = self.context
        if not ctx.snapshots.exists(request.snapshot) or not ctx.store.has_snapshot(
            request.snapshot
        ):
            raise SubmitRefused(
                f"snapshot {request.snapshot} is unknown; upload it first "
                f"(PUT {c.API_PREFIX}/snapshots/{request.snapshot})"
            )
        now = time.time_ns()
        ops: list[Op] = [
            SubmitRun(
                request.run_id,
                request.experiment,
                request.name,
                ctx.collector_id,
                target.name,
                request.snapshot,
                request.script,
                request.arguments,
                _json(request.environment.to_json()),
                now,
            )
        ]
        ops += [SetTag(request.run_id, key, value) for key, value in request.tags]
        errors = ctx.apply(ops)
        if errors:
            raise SubmitRefused("; ".join(errors))
        size, sha256 = ctx.snapshots.link_into_run(ctx.files, request.run_id, request.snapshot)
        ctx.apply([RecordFile(request.run_id, request.experiment, FILE_NAME, size, sha256, now)])
        target.wake.set()

    def cancel(self, run_id: str) -> str:
        """Cancel a submitted run; return the run's status after the request."""
        ctx = self.context
        errors = ctx.apply([CancelRun(run_id, time.time_ns())])
        if errors:
            raise SubmitRefused("; ".join(errors))
        sub = ctx.store.get_submission(run_id)
        if sub is None:  # pragma: no cover - CancelRun refuses unknown runs
            raise SubmitRefused(f"run {run_id!r} was not submitted to a compute target")
        if sub.state == ACTIVE:
            target = self.targets.get(sub.target)
            if target is not None and sub.collector == ctx.collector_id:
                threading.Thread(
                    target=target.cancel, args=(sub,), name="runlog-cancel", daemon=True
                ).start()
        return sub.status

    def queue(self, target: str | None = None) -> list[SubmissionInfo]:
        """Queued and active runs (of *target*), in queue order."""
        if target is not None:
            self.target(target)
        return self.context.store.list_submissions([QUEUED, ACTIVE], target)

    def finished(self, target: str | None = None, limit: int = 20) -> list[SubmissionInfo]:
        """The *limit* most recently submitted runs (of *target*) that have ended, newest
        first."""
        if target is not None:
            self.target(target)
        store = self.context.store
        return store.list_submissions([DONE], target, limit=limit, newest_first=True)

    def describe_targets(self) -> list[dict[str, Any]]:
        """Every target with its limit and how many runs it has queued and running."""
        queue = self.queue()
        described = []
        for target in self.targets.values():
            info = target.describe()
            mine = [s for s in queue if s.target == target.name]
            info["queued"] = sum(1 for s in mine if s.state == QUEUED)
            info["running"] = sum(1 for s in mine if s.state == ACTIVE)
            described.append(info)
        return described


def _json(value: Any) -> str:
    import json

    return json.dumps(value, sort_keys=True)
