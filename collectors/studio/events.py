"""Live updates for the studio: what the writer commits, as server-sent events.

The writer calls `EventHub.on_commit` after each commit (in its thread). The hub folds the
operations into "what changed in which run" and, at most every `FLUSH_SECONDS`, sends one
event to every open stream::

    event: change
    data: {"runs": {"<run id>": {"what": ["metrics", "status"], "metrics": ["loss"]}},
           "experiments_of": {"<run id>": "<experiment>"}}

(``experiments_of`` names the experiment of the runs whose data said it, so a dashboard
sees a new run of its experiment.)

Pages then fetch what they show of those runs. With nobody listening a commit costs one
check. A stream that falls behind (its queue full) gets ``{"resync": true}`` and reloads.
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from collectors.ops import (
    AppendLogLines,
    AppendPoints,
    AppendSpans,
    CreateExperiment,
    DeleteExperimentTag,
    DeleteTag,
    EnsureRun,
    Op,
    SetExperimentTag,
    SetParam,
    SetProperty,
    SetStatus,
    SetTag,
    UpdateExperiment,
)

FLUSH_SECONDS: Final = 0.1
PING_SECONDS: Final = 15.0
_QUEUE_SIZE: Final = 64
_EXPERIMENT_OPS: Final = (CreateExperiment, UpdateExperiment, SetExperimentTag, DeleteExperimentTag)
_MAX_METRIC_NAMES: Final = 200  # per run and event; more and the page refetches all
_WHAT: Final[dict[type, str]] = {
    SetStatus: "status",
    SetTag: "tags",
    DeleteTag: "tags",
    SetParam: "params",
    SetProperty: "properties",
    AppendPoints: "metrics",
    AppendLogLines: "logs",
    AppendSpans: "spans",
}


@dataclass
class _RunChange:
    what: set[str] = field(default_factory=set)
    metrics: set[str] = field(default_factory=set)

    def as_json(self) -> dict[str, Any]:
        names = sorted(self.metrics)[:_MAX_METRIC_NAMES]
        return {"what": sorted(self.what), "metrics": names}


@dataclass
class Changes:
    """What changed since the last flush."""

    runs: dict[str, _RunChange] = field(default_factory=dict)
    experiments_of: dict[str, str] = field(default_factory=dict)
    experiments: bool = False

    def __bool__(self) -> bool:
        return bool(self.runs) or self.experiments

    def add(self, op: Op) -> None:
        """Fold one committed operation in."""
        if isinstance(op, _EXPERIMENT_OPS):
            self.experiments = True
            return
        run_id = getattr(op, "run_id", None)
        if run_id is None:  # batch marks, logged models
            return
        change = self.runs.setdefault(run_id, _RunChange())
        if isinstance(op, EnsureRun):  # leads every request's operations on a run
            self.experiments_of.setdefault(run_id, op.experiment)
        elif isinstance(op, AppendPoints):
            change.what.add("metrics")
            change.metrics.add(op.name)
        else:
            change.what.add(_WHAT.get(type(op), "run"))

    def merge(self, data: dict[str, Any]) -> None:
        """Fold in another collector's changes (the JSON of `as_json`)."""
        for run_id, change in (data.get("runs") or {}).items():
            mine = self.runs.setdefault(str(run_id), _RunChange())
            mine.what.update(str(w) for w in change.get("what", ()))
            mine.metrics.update(str(m) for m in change.get("metrics", ()))
        for run_id, experiment in (data.get("experiments_of") or {}).items():
            self.experiments_of.setdefault(str(run_id), str(experiment))
        self.experiments = self.experiments or bool(data.get("experiments"))

    def as_json(self) -> dict[str, Any]:
        runs = {run_id: change.as_json() for run_id, change in self.runs.items()}
        out: dict[str, Any] = {"runs": runs, "experiments_of": self.experiments_of}
        if self.experiments:
            out["experiments"] = True
        return out


class EventHub:
    """Fans the writer's commits out to the open event streams."""

    def __init__(self, flush_seconds: float = FLUSH_SECONDS) -> None:
        self._flush_seconds = flush_seconds
        self._lock = threading.Lock()
        self._pending = Changes()
        self._scheduled = False
        self._queues: set[asyncio.Queue[bytes | None]] = set()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._closed = False

    @property
    def listeners(self) -> int:
        """Open streams."""
        return len(self._queues)

    def on_commit(self, committed: Sequence[Sequence[Op]]) -> None:
        """The writer's listener: note what *committed* changed (writer thread)."""
        loop = self._loop
        if not self._queues or loop is None:
            return
        with self._lock:
            for ops in committed:
                for op in ops:
                    self._pending.add(op)
            if self._scheduled:
                return
            self._scheduled = True
        loop.call_soon_threadsafe(loop.call_later, self._flush_seconds, self._flush)

    def on_remote(self, changes: dict[str, Any], resync: bool = False) -> None:
        """Note what another collector on the same store committed (`CommitRelay`'s
        thread): *changes* in the form of a ``change`` event's data."""
        loop = self._loop
        if not self._queues or loop is None:
            return
        if resync:
            loop.call_soon_threadsafe(self._publish, _event("change", {"resync": True}))
            return
        with self._lock:
            self._pending.merge(changes)
            if self._scheduled:
                return
            self._scheduled = True
        loop.call_soon_threadsafe(loop.call_later, self._flush_seconds, self._flush)

    def _flush(self) -> None:
        with self._lock:
            changes, self._pending, self._scheduled = self._pending, Changes(), False
        if changes:
            self._publish(_event("change", changes.as_json()))

    def _publish(self, message: bytes) -> None:
        for queue in list(self._queues):
            try:
                queue.put_nowait(message)
            except asyncio.QueueFull:  # a slow reader: tell it to reload instead
                _drain(queue)
                queue.put_nowait(_event("change", {"resync": True}))

    async def stream(self) -> AsyncIterator[bytes]:
        """One client's event stream; ends when the hub is closed."""
        self._loop = asyncio.get_running_loop()
        queue: asyncio.Queue[bytes | None] = asyncio.Queue(_QUEUE_SIZE)
        self._queues.add(queue)
        try:
            yield b"retry: 2000\n" + _event("hello", {})
            while not self._closed:
                try:
                    message = await asyncio.wait_for(queue.get(), PING_SECONDS)
                except asyncio.TimeoutError:
                    message = b": ping\n\n"
                if message is None:
                    return
                yield message
        finally:
            self._queues.discard(queue)

    def close(self) -> None:
        """End every stream (the collector is stopping); call from the event loop."""
        self._closed = True
        for queue in list(self._queues):
            _drain(queue)
            queue.put_nowait(None)


def _drain(queue: asyncio.Queue[bytes | None]) -> None:
    while not queue.empty():
        queue.get_nowait()


def _event(name: str, data: dict[str, Any]) -> bytes:
    return f"event: {name}\ndata: {json.dumps(data, separators=(',', ':'))}\n\n".encode()
