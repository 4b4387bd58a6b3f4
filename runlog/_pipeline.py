"""The fast path: an in-process buffer and the exporter thread behind it.

A logging call appends one tuple to a `collections.deque` (atomic under the GIL) and
returns. The exporter thread wakes every `INTERVAL` seconds (or on `flush`), drains the
deque, validates and packs points per metric column (`_packer`), posts OTLP/HTTP protobuf to
the collector, and sends staged uploads. When the collector cannot be reached, requests go to
the disk spool (one warning says so) and are replayed, in order, once it answers again.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from runlog import _shutdown
from runlog import conventions as c
from runlog._packer import OP_FLUSH, OP_SERIES, OP_UPLOAD, Packer, RunHandle
from runlog._records import Event
from runlog.spool import ReplayStopped, Spool, SpoolFullError, Upload

if TYPE_CHECKING:
    from runlog._transport import Transport

_log = logging.getLogger("runlog.internal")

INTERVAL = 0.25
#: How often the memory watchdog looks at the buffer (a sum of deque lengths: ~µs).
WATCH_INTERVAL = 0.02
#: Longest a throttled `run.log` call waits for the buffer to drain (it never waits longer).
PAUSE_SECONDS = 0.5
RETRY_SECONDS = (1.0, 2.0, 5.0, 10.0, 30.0)
#: Points held in memory before the exporter spills the buffer to the spool on disk.
DEFAULT_MAX_BUFFERED = 1_000_000


def flush_timeout() -> float:
    """Seconds to wait for the collector at exit (``RUNLOG_FLUSH_TIMEOUT``, default 10)."""
    return _number(c.ENV_FLUSH_TIMEOUT, 10.0)


def heartbeat_interval() -> float:
    """Seconds between heartbeats of live runs (``RUNLOG_HEARTBEAT_INTERVAL``, default 10)."""
    return _number(c.ENV_HEARTBEAT_INTERVAL, c.DEFAULT_HEARTBEAT_INTERVAL)


def max_buffered() -> int:
    """Points held in memory before spilling to disk (``RUNLOG_MAX_BUFFERED_POINTS``)."""
    return max(1, int(_number(c.ENV_MAX_BUFFERED_POINTS, DEFAULT_MAX_BUFFERED)))


def _number(name: str, default: float) -> float:
    try:
        return max(0.0, float(os.environ.get(name, default)))
    except ValueError:
        return default


class Batch:
    """One serialised request and the metric points it carries."""

    __slots__ = ("body", "points")

    def __init__(self, body: bytes, points: int) -> None:
        self.body = body
        self.points = points


class Pipeline:
    """One buffer and exporter thread per collector endpoint.

    Who owns the buffered data is decided under one lock (`_owner`): the exporter thread
    packs, and tracks the requests it has packed and not yet had acknowledged; at exit,
    `close` takes the lock and *hands over*: from then on the exporter sends nothing, and
    everything not acknowledged (the unacknowledged requests and what is still buffered)
    goes to the spool, once.
    """

    def __init__(
        self,
        endpoint: str,
        token: str | None,
        spool: Spool | None = None,
        interval: float = INTERVAL,
        sender: Transport | None = None,
    ) -> None:
        self.endpoint = endpoint
        self.spool = spool or Spool(destination=endpoint)
        self.queue: deque[tuple[Any, ...]] = deque()
        self.append = self.queue.append  # the hot path binds this
        self._token = token
        self._sender_instance: Transport | None = sender
        self._own_sender = sender is None
        self._packer = Packer()
        self._interval = interval
        self._wake = threading.Event()
        self._stopping = False
        self._owner = threading.Lock()
        self._handed_over = False
        self._inflight: list[Batch] = []
        self._offline_since: float | None = None
        self._retry_at = 0.0
        self._failures = 0
        self._live: dict[int, RunHandle] = {}
        self._heartbeat_every = heartbeat_interval()
        self._next_heartbeat = 0.0
        self._max_buffered = max_buffered()
        self._spilled_once = False
        # Backpressure (see `_bound_memory`): set while the buffer is below half its bound.
        self._throttled = False
        self._paused = False
        self._watch_every = WATCH_INTERVAL
        self._pressure = threading.Event()
        self._drained = threading.Event()
        self._drained.set()
        self.sent_points = 0
        self.spooled_points = 0
        self.spooled_requests = 0
        self._start_threads()

    def _start_threads(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="runlog-exporter", daemon=True)
        self._thread.start()
        # The exporter may wait on the network for seconds: another thread bounds memory.
        watchdog = threading.Thread(target=self._bound_memory, name="runlog-spill", daemon=True)
        watchdog.start()

    @property
    def _sender(self) -> Transport:
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
        if self._own_sender:
            self._sender_instance = None  # the parent's socket is the parent's
        self._owner = threading.Lock()  # the exporter may have held it at the fork
        self._inflight = []
        self._live = {}  # the parent's runs: the parent sends their heartbeats
        self._stopping = self._handed_over = False
        self._offline_since, self._failures, self._retry_at = None, 0, 0.0
        self.sent_points = self.spooled_points = self.spooled_requests = 0
        self._wake = threading.Event()
        self._paused = False  # `_throttled` stays: the first look swaps throttled appenders back
        self._pressure = threading.Event()
        self._drained = threading.Event()
        self._drained.set()
        self._start_threads()

    # --- called from user threads ---------------------------------------------------------
    def watch(self, handle: RunHandle) -> None:
        """Send heartbeats for *handle*'s run while it is live (a run this process started)."""
        self._live[id(handle)] = handle
        self._next_heartbeat = 0.0  # the first one goes with the next cycle
        self._wake.set()

    def unwatch(self, handle: RunHandle) -> None:
        """Stop the heartbeats of *handle*'s run (it finished)."""
        self._live.pop(id(handle), None)

    def flush(self, timeout: float | None = None) -> bool:
        """Wait until everything appended so far was sent or spooled; False on timeout."""
        done = threading.Event()
        self.append((OP_FLUSH, done))
        self._wake.set()
        return done.wait(flush_timeout() if timeout is None else timeout)

    def close(self, timeout: float | None = None) -> None:
        """Flush with a bounded wait, stop the thread, spool whatever is left, and say so.

        A client that is offline (waiting out its retry backoff) tries the collector once
        more first, so that a collector that came back gets the data now.
        """
        if self._stopping:
            return
        self._retry_at = 0.0
        wait = flush_timeout() if timeout is None else timeout
        flushed = self.flush(wait)
        self._stopping = True
        self._wake.set()
        self._drained.set()  # a throttled `run.log` no longer waits for the watchdog
        if flushed:
            self._thread.join(1.0)
        self._hand_over()
        if not flushed:
            _log.warning(
                "collector at %s did not take everything within %g s (%s)",
                self.endpoint,
                wait,
                c.ENV_FLUSH_TIMEOUT,
            )
        # A replay of the spool in progress stops at its next entry and puts back what it
        # had claimed; wait for that (bounded: a send to a stalled collector may not end).
        self._thread.join(2.0)
        self._report()

    def _hand_over(self) -> None:
        """Take the data from the exporter (once) and spool what was not acknowledged.

        Spooling happens under the lock, here and in the exporter's threads, so that the
        interpreter never stops a daemon thread between taking a batch and writing it.
        """
        with self._owner:
            if self._handed_over:
                return
            self._handed_over = True
            batches, self._inflight = self._inflight, []
            items = _drain(self.queue)
            if items or self._packer.buffered():
                batches += self._encode(self._packer.pack(items)[0])
            for batch in batches:
                self._spool_batch(batch)

    def _report(self) -> None:
        """The exit message: how many points went where (when data waits in the spool)."""
        left = len(self.spool.pending()) if self.spooled_requests else 0
        if not left:
            return  # nothing of ours was spooled, or it was all replayed meanwhile
        _log.warning(
            "%d point(s) sent to %s; %d point(s) in %d request(s) went to the spool "
            "%s, where %d entr%s wait%s: replay with `runlog sync` (what the collector "
            "already kept is not stored twice)",
            self.sent_points,
            self.endpoint,
            self.spooled_points,
            self.spooled_requests,
            self.spool.directory,
            left,
            "y" if left == 1 else "ies",
            "s" if left == 1 else "",
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
        with self._owner:
            if self._handed_over:
                return
            beats = self._heartbeats()
            items = _drain(self.queue)
            if not (items or beats or self._packer.buffered() or self._offline_since is not None):
                return
            records, side = self._packer.pack(items)
            batches = self._encode(beats + records)
            self._inflight = list(batches)
        self._deliver(batches)
        for op in side:
            if op[0] == OP_UPLOAD:
                self._upload(op[1])
            elif op[0] == OP_FLUSH:
                op[1].set()

    def _heartbeats(self) -> list[Event]:
        now = time.monotonic()
        if self._stopping or not self._live or now < self._next_heartbeat or self._offline_since:
            return []  # offline: no heartbeat goes to the spool (it would be stale on replay)
        self._next_heartbeat = now + self._heartbeat_every
        time_ns = time.time_ns()
        return [
            Event(handle.key, c.EVENT_RUN_HEARTBEAT, time_ns, ())
            for handle in list(self._live.values())
        ]

    @staticmethod
    def _encode(records: list[Any]) -> list[Batch]:
        from runlog._otlp_encode import encode_counted

        return [Batch(body, points) for body, points in encode_counted(records)]

    def _deliver(self, batches: list[Batch]) -> None:
        from runlog._transport import SendError

        if self._offline_since is not None and not self._try_reconnect():
            self._spool_own(batches)
            return
        for index, batch in enumerate(batches):
            if self._handed_over:
                return  # `close` spooled what was not acknowledged
            if self._over_limit():
                self._spill(batches[index:])
                return
            try:
                self._sender.deliver_logs(batch.body)
            except SendError as exc:
                self._go_offline(exc)
                self._spool_own(batches[index:])
                return
            with self._owner:
                if batch in self._inflight:
                    self._inflight.remove(batch)
                    self.sent_points += batch.points

    def _spool_own(self, batches: list[Batch]) -> None:
        """Spool those of *batches* that nobody else took (the exit hand-over may have)."""
        with self._owner:
            mine = [b for b in batches if b in self._inflight]
            self._inflight = [b for b in self._inflight if b not in mine]
            for batch in mine:
                self._spool_batch(batch)

    # --- backpressure ----------------------------------------------------------------------------
    def _bound_memory(self) -> None:
        """Keep the points held in memory near `max_buffered` (the watchdog thread).

        Over the bound, the buffer spills to the spool. A loop that logs faster than runlog
        can pack would outgrow any bound between two looks, so the over-full metrics' appenders
        (the entries `run.log` calls) are then swapped for throttled ones, which make a call
        wait (at most `PAUSE_SECONDS`) for the next spill once their metric holds its share of
        half the bound. A look with no such wait and the buffer under half the bound swaps the
        plain appenders back: a loop that is not over the bound pays nothing.
        """
        from runlog._guard import mark_thread

        mark_thread()
        self._watch_every = min(self._interval, WATCH_INTERVAL)
        while not self._stopping:
            self._pressure.wait(self._watch_every)
            self._pressure.clear()
            try:
                self._watch_once()
            except Exception:  # never stop guarding memory
                _log.exception("runlog could not spill buffered data to the spool")
                self._drained.set()

    def _watch_once(self) -> None:
        paused, self._paused = self._paused, False  # a throttled call waited since the last look
        start = time.perf_counter()
        buffered = self._buffered()
        # With very many metrics a look costs more: keep it under ~2% of the time between looks.
        spent = time.perf_counter() - start
        self._watch_every = min(self._interval, max(WATCH_INTERVAL, 50 * spent))
        if buffered > self._max_buffered or (
            self._throttled and (paused or buffered > self._max_buffered // 2)
        ):
            self._spill([])
            self._throttle()
        elif self._throttled:
            self._release()
        self._drained.set()

    def _buffered(self) -> int:
        return len(self.queue) + self._packer.buffered()

    def _throttle(self) -> None:
        """Swap the plain appenders of the registered metrics for throttled ones."""
        series = list(self._packer.series)
        share = max(1, self._max_buffered // (2 * max(1, len(series))))
        for handle, name, queue in series:
            current = handle.appenders.get(name)
            if current == queue.append or getattr(current, "share", share) != share:
                handle.appenders[name] = self._throttled_append(queue, share)
        self._throttled = True

    def _release(self) -> None:
        """Put the plain appenders back (the loop no longer outruns the packer)."""
        for handle, name, queue in list(self._packer.series):
            if getattr(handle.appenders.get(name), "share", None) is not None:
                handle.appenders[name] = queue.append
        self._throttled = False

    def _throttled_append(
        self, queue: deque[tuple[Any, Any, int]], share: int
    ) -> Callable[[tuple[Any, Any, int]], None]:
        append = queue.append

        def throttled(point: tuple[Any, Any, int]) -> None:
            append(point)
            if len(queue) > share:
                self._pause()

        throttled.share = share  # type: ignore[attr-defined]  # a marker: tests see it throttles
        return throttled

    def _pause(self) -> None:
        """Wait (bounded) until the watchdog has spilled what this thread logged."""
        if self._stopping:
            return
        self._paused = True
        self._drained.clear()
        self._pressure.set()
        if not self._drained.wait(PAUSE_SECONDS):
            # The watchdog is stuck (a spool on a hung disk): run.log goes on unthrottled
            # rather than waiting again on every call; the next spill throttles it again.
            self._release()

    def _over_limit(self) -> bool:
        return self._buffered() > self._max_buffered

    def _spill(self, batches: list[Batch]) -> None:
        """The buffer outgrew its bound while sending: put it on disk, send it from there.

        Going through the spool keeps the run's records in order; the next cycle replays
        the spool (as after an outage, with no backoff) and then sends live again.
        """
        with self._owner:
            if self._handed_over:
                return
            records, side = self._packer.pack(_drain(self.queue))
            self.queue.extendleft(reversed(side))  # barriers and uploads keep their turn
            batches = [b for b in batches if b in self._inflight] + self._encode(records)
            self._inflight = [b for b in self._inflight if b not in batches]
            for batch in batches:
                self._spool_batch(batch)
        if not self._spilled_once:
            self._spilled_once = True
            _log.warning(
                "more than %d points waited in memory for the collector at %s; "
                "spilling to the spool %s and sending from there; while over the bound, a loop "
                "that logs faster than runlog can pack is slowed (set %s to change the bound)",
                self._max_buffered,
                self.endpoint,
                self.spool.directory,
                c.ENV_MAX_BUFFERED_POINTS,
            )
        if self._offline_since is None:
            self._offline_since = time.monotonic()
            self._retry_at = 0.0

    def _upload(self, upload: Upload) -> None:
        from runlog._transport import SendError

        if self._offline_since is not None:
            return  # stays staged in the spool; replayed with the rest
        try:
            self.spool.replay_one(upload.data, self._send_logs, self._send_file)
        except ReplayStopped:
            return  # `close` took over: the upload stays in the spool, as it reports
        except SendError as exc:
            self._go_offline(exc)

    def _send_logs(self, body: bytes) -> None:
        """Send a spooled request, unless `close` has taken over (it then stays spooled)."""
        if self._handed_over:
            raise ReplayStopped("the process is exiting; the entry stays in the spool")
        self._sender.deliver_logs(body)

    def _send_file(self, upload: Upload) -> None:
        if self._handed_over:
            raise ReplayStopped("the process is exiting; the upload stays in the spool")
        self._sender.deliver_file(upload)

    def _spool_batch(self, batch: Batch) -> None:
        try:
            self.spool.write_logs(batch.body)
        except (SpoolFullError, OSError) as exc:
            _log.error(
                "runlog LOST a batch of run data (%d points): cannot write to the spool: %s",
                batch.points,
                exc,
            )
            return
        self.spooled_points += batch.points
        self.spooled_requests += 1

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
        result = self.spool.replay(self._send_logs, self._send_file)
        if self._handed_over:
            return False  # `close` took over mid-replay: what is left stays spooled
        if result.failed:
            self._go_offline(ConnectionError("collector still unreachable"))
            return False
        was_down = self._failures > 0
        self._offline_since, self._failures = None, 0
        if was_down:
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


_pipelines: dict[tuple[str, str | None, int], Pipeline] = {}
_lock = threading.Lock()
_override: Pipeline | None = None


def get_pipeline(endpoint: str, token: str | None, transport: Transport | None = None) -> Pipeline:
    """The process's pipeline for *endpoint* (started on first use).

    A *transport* (see `runlog._transport.Transport`) replaces the HTTP sender: that
    workspace's data goes there instead (one pipeline per transport object).
    """
    if _override is not None:
        return _override
    key = (endpoint, token, id(transport) if transport is not None else 0)
    with _lock:
        pipeline = _pipelines.get(key)
        if pipeline is None:
            pipeline = _pipelines[key] = Pipeline(endpoint, token, sender=transport)
        return pipeline


def set_override(pipeline: Pipeline | None) -> Pipeline | None:
    """Send every run's data through *pipeline* (`runlog.testing.capture`); return the
    previous override."""
    global _override
    previous, _override = _override, pipeline
    return previous


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


_shutdown.add(_shutdown.CLOSE, close_all)
_shutdown.after_fork_in_child(_after_fork_in_child)
