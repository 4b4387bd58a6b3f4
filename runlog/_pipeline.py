"""The fast path: an in-process buffer and the exporter thread behind it.

A logging call appends one tuple to a `collections.deque` (atomic under the GIL) and
returns. The exporter thread wakes every `INTERVAL` seconds (or on `flush`), drains the
deque, validates and packs points per metric column (`_packer`), posts OTLP/HTTP protobuf to
the collector, and sends staged uploads. When the collector cannot be reached, requests go to
the disk spool (one warning says so) and are replayed, in order, once it answers again.
"""

from __future__ import annotations

import atexit
import logging
import os
import threading
import time
from collections import deque
from typing import TYPE_CHECKING, Any

from runlog import conventions as c
from runlog._packer import OP_FLUSH, OP_SERIES, OP_UPLOAD, Packer
from runlog._spool import Spool, SpoolFullError, Upload

if TYPE_CHECKING:
    from runlog._transport import Sender

_log = logging.getLogger("runlog.internal")

INTERVAL = 0.25
RETRY_SECONDS = (1.0, 2.0, 5.0, 10.0, 30.0)


def flush_timeout() -> float:
    """Seconds to wait for the collector at exit (``RUNLOG_FLUSH_TIMEOUT``, default 10)."""
    try:
        return max(0.0, float(os.environ.get(c.ENV_FLUSH_TIMEOUT, "10")))
    except ValueError:
        return 10.0


class Pipeline:
    """One buffer and exporter thread per collector endpoint."""

    def __init__(
        self,
        endpoint: str,
        token: str | None,
        spool: Spool | None = None,
        interval: float = INTERVAL,
    ) -> None:
        self.endpoint = endpoint
        self.spool = spool or Spool(destination=endpoint)
        self.queue: deque[tuple[Any, ...]] = deque()
        self.append = self.queue.append  # the hot path binds this
        self._token = token
        self._sender_instance: Sender | None = None
        self._packer = Packer()
        self._interval = interval
        self._wake = threading.Event()
        self._stopping = False
        self._inflight: list[bytes] = []
        self._offline_since: float | None = None
        self._retry_at = 0.0
        self._failures = 0
        self._thread = threading.Thread(target=self._loop, name="runlog-exporter", daemon=True)
        self._thread.start()

    @property
    def _sender(self) -> Sender:
        # Imported here: protobuf and the sender cost a training process ~60 ms to import.
        if self._sender_instance is None:
            from runlog._transport import Sender

            self._sender_instance = Sender(self.endpoint, self._token)
        return self._sender_instance

    def _after_fork_in_child(self) -> None:
        """In a forked child (e.g. a DataLoader worker): start this process's own exporter.

        What was buffered at the fork belongs to the parent, which sends it; the child keeps
        only the metric registrations, so its own points are exported, once.
        """
        kept = [item for item in _drain(self.queue) if item[0] == OP_SERIES]
        self.queue.extend(kept)
        self._packer.forget_buffered()
        self._sender_instance = None  # the parent's socket is the parent's
        self._inflight = []
        self._stopping = False
        self._offline_since, self._failures, self._retry_at = None, 0, 0.0
        self._wake = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="runlog-exporter", daemon=True)
        self._thread.start()

    # --- called from user threads ---------------------------------------------------------
    def flush(self, timeout: float | None = None) -> bool:
        """Wait until everything appended so far was sent or spooled; False on timeout."""
        done = threading.Event()
        self.append((OP_FLUSH, done))
        self._wake.set()
        return done.wait(flush_timeout() if timeout is None else timeout)

    def close(self, timeout: float | None = None) -> None:
        """Flush with a bounded wait, stop the thread, and spool whatever is left."""
        if self._stopping:
            return
        flushed = self.flush(timeout)
        self._stopping = True
        self._wake.set()
        if flushed:
            self._thread.join(1.0)
            return
        self._spool_leftovers()

    def _spool_leftovers(self) -> None:
        """The collector did not answer in time: keep in-flight and queued data on disk."""
        for body in list(self._inflight):
            self._spool_body(body)
        from runlog._encode import encode

        items = _drain(self.queue)
        for body in encode(self._packer.pack(items)[0]):
            self._spool_body(body)
        _log.warning(
            "collector at %s did not answer within the flush timeout; "
            "unsent data is in the spool %s (replay: `runlog sync`)",
            self.endpoint,
            self.spool.directory,
        )

    # --- the exporter thread ---------------------------------------------------------------
    def _loop(self) -> None:
        from runlog._guard import mark_thread

        mark_thread()  # what is logged here (httpx, runlog.internal) is no user log line
        while not self._stopping:
            self._wake.wait(self._interval)
            self._wake.clear()
            try:
                self._cycle()
            except Exception:  # a bug here must never stop the exporter
                _log.exception("runlog exporter error (data of this cycle may be in the spool)")

    def _cycle(self) -> None:
        items = _drain(self.queue)
        if not items and self._offline_since is None:
            return
        from runlog._encode import encode

        records, side = self._packer.pack(items)
        bodies = list(encode(records))
        self._inflight = bodies
        self._deliver(bodies)
        self._inflight = []
        for op in side:
            if op[0] == OP_UPLOAD:
                self._upload(op[1])
            elif op[0] == OP_FLUSH:
                op[1].set()

    def _deliver(self, bodies: list[bytes]) -> None:
        from runlog._transport import SendError

        if self._offline_since is not None and not self._try_reconnect():
            for body in bodies:
                self._spool_body(body)
            return
        for index, body in enumerate(bodies):
            try:
                self._sender.deliver_logs(body)
            except SendError as exc:
                self._go_offline(exc)
                for rest in bodies[index:]:
                    self._spool_body(rest)
                return

    def _upload(self, upload: Upload) -> None:
        from runlog._transport import SendError

        if self._offline_since is not None:
            return  # stays staged in the spool; replayed with the rest
        try:
            self.spool.replay_one(upload.data, self._sender.deliver_logs, self._sender.deliver_file)
        except SendError as exc:
            self._go_offline(exc)

    def _spool_body(self, body: bytes) -> None:
        try:
            self.spool.write_logs(body)
        except (SpoolFullError, OSError) as exc:
            _log.error("runlog LOST a batch of run data: cannot write to the spool: %s", exc)

    # --- offline and back ----------------------------------------------------------------------
    def _go_offline(self, exc: Exception) -> None:
        if self._offline_since is None:
            self._offline_since = time.monotonic()
            _log.warning(
                "%s; keeping run data in the spool %s until it is back "
                "(or replay it with `runlog sync`)",
                exc,
                self.spool.directory,
            )
        self._failures += 1
        delay = RETRY_SECONDS[min(self._failures, len(RETRY_SECONDS)) - 1]
        self._retry_at = time.monotonic() + delay

    def _try_reconnect(self) -> bool:
        if time.monotonic() < self._retry_at:
            return False
        result = self.spool.replay(self._sender.deliver_logs, self._sender.deliver_file)
        if result.failed:
            self._go_offline(ConnectionError("collector still unreachable"))
            return False
        self._offline_since, self._failures = None, 0
        _log.warning(
            "collector at %s is back; replayed %d spooled item(s)", self.endpoint, result.sent
        )
        return True


def _drain(queue: deque[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
    items = []
    pop = queue.popleft
    try:
        while True:
            items.append(pop())
    except IndexError:
        return items


_pipelines: dict[tuple[str, str | None], Pipeline] = {}
_lock = threading.Lock()


def get_pipeline(endpoint: str, token: str | None) -> Pipeline:
    """The process's pipeline for *endpoint* (started on first use)."""
    key = (endpoint, token)
    with _lock:
        pipeline = _pipelines.get(key)
        if pipeline is None:
            pipeline = _pipelines[key] = Pipeline(endpoint, token)
        return pipeline


def close_all(timeout: float | None = None) -> None:
    """Flush and stop every pipeline (at exit, on SIGTERM)."""
    with _lock:
        pipelines = list(_pipelines.values())
    for pipeline in pipelines:
        try:
            pipeline.close(timeout)
        except Exception:
            _log.exception("runlog could not flush at exit")


def _after_fork_in_child() -> None:
    global _lock
    _lock = threading.Lock()  # another thread may have held it at the fork
    for pipeline in _pipelines.values():
        pipeline._after_fork_in_child()


atexit.register(close_all)
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)
