"""The single writer: group commits of operation lists onto the store.

Receivers `submit` the operations of one request and get a future; one thread takes all
lists waiting (up to a cap), applies them in one `Store.apply` call (one transaction) and
resolves the futures; then it tells the listeners (`add_listener`, e.g. the studio's live
updates) what was committed. If a group fails, each list is retried alone so that one bad list
fails only its own request. The queue is bounded: when it is full `submit` raises
`WriterBusyError` and receivers answer 503 with ``Retry-After``. A list the store refuses
because of its data (`caused_by_input`) must be answered with a 4xx, not a 503: sent again,
it would fail again, forever (a "poison batch").
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future

import sqlalchemy as sa

from collectors.ops import Applied, Op
from collectors.store.base import Store

__all__ = ["Writer", "WriterBusyError", "WriterError", "WriterStoppedError", "caused_by_input"]

logger = logging.getLogger(__name__)

_Item = tuple[Sequence[Op], "Future[Applied]"]
#: Called in the writer thread with the operation lists of each commit; must be quick.
Listener = Callable[[Sequence[Sequence[Op]]], None]
_STOP = None  # the queue item that tells the thread to finish


class WriterError(RuntimeError):
    """The writer cannot take operations now."""


class WriterBusyError(WriterError):
    """The writer's queue is full; retry after a short wait."""


class WriterStoppedError(WriterError):
    """The writer was stopped (the collector is shutting down)."""


_INPUT_ERRORS = (ValueError, TypeError, OverflowError)


def caused_by_input(exc: BaseException) -> bool:
    """Tell whether a store failure comes from the data it was given (an int past int64, a
    string that cannot be encoded, a value the database refuses), so that sending the same
    data again cannot succeed; other failures (locks, I/O, a lost connection) may pass."""
    if isinstance(exc, sa.exc.DataError):
        return True
    if isinstance(exc, sa.exc.StatementError):
        return isinstance(exc.orig, _INPUT_ERRORS)
    return isinstance(exc, _INPUT_ERRORS)


class Writer:
    """Applies operation lists to a store from one background thread, in groups.

    Args:
        store: where the operations go.
        max_queue: lists that may wait; `submit` raises `WriterBusyError` beyond that.
        max_group: most lists applied in one transaction.
    """

    def __init__(self, store: Store, max_queue: int = 1024, max_group: int = 256) -> None:
        self._store = store
        self._queue: queue.Queue[_Item | None] = queue.Queue(maxsize=max_queue)
        self._max_group = max_group
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._stopped = False
        self._listeners: list[Listener] = []

    def add_listener(self, listener: Listener) -> None:
        """Call *listener* after each commit with the lists it committed.

        It runs in the writer thread, so it must return quickly; what it raises is logged
        and otherwise ignored.
        """
        self._listeners.append(listener)

    def start(self) -> None:
        """Start the writer thread (once)."""
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="runlog-writer", daemon=True)
                self._thread.start()

    def submit(self, ops: Sequence[Op]) -> Future[Applied]:
        """Queue *ops* for one transaction; the future resolves once they are committed.

        An empty list resolves at once without touching the store.

        Raises:
            WriterBusyError: the queue is full.
            WriterStoppedError: `stop` was called.
        """
        future: Future[Applied] = Future()
        if self._stopped:
            raise WriterStoppedError("the collector is shutting down; retry against a new one")
        if not ops:
            future.set_result(Applied())
            return future
        try:
            self._queue.put_nowait((ops, future))
        except queue.Full:
            raise WriterBusyError("the collector's write queue is full; retry shortly") from None
        return future

    def stop(self, timeout: float | None = None) -> None:
        """Stop taking work, apply everything already queued, and join the thread."""
        with self._lock:
            self._stopped = True
            thread = self._thread
        if thread is None:
            return
        self._queue.put(_STOP)
        thread.join(timeout)
        self._fail_leftovers()

    def _fail_leftovers(self) -> None:
        """Fail lists that raced past `submit`'s check after the stop marker."""
        while True:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                return
            if item is not _STOP:
                item[1].set_exception(WriterStoppedError("the collector shut down"))

    @property
    def pending(self) -> int:
        """Lists waiting to be applied (approximate)."""
        return self._queue.qsize()

    def _run(self) -> None:
        while True:
            group, stop = self._take_group()
            if group:
                self._apply(group)
            if stop:
                return

    def _take_group(self) -> tuple[list[_Item], bool]:
        first = self._queue.get()
        if first is _STOP:
            return [], True
        group: list[_Item] = [first]
        while len(group) < self._max_group:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                break
            if item is _STOP:
                return group, True
            group.append(item)
        return group, False

    def _apply(self, group: list[_Item]) -> None:
        live = [(ops, fut) for ops, fut in group if fut.set_running_or_notify_cancel()]
        if not live:
            return
        try:
            results = self._store.apply([ops for ops, _ in live])
        except Exception as exc:
            if len(live) == 1:
                logger.error("store refused a batch of %d operations: %s", len(live[0][0]), exc)
                live[0][1].set_exception(exc)
                return
            logger.warning("group commit of %d lists failed (%s); retrying alone", len(live), exc)
            for item in live:
                self._apply_alone(*item)
            return
        for (_, future), applied in zip(live, results, strict=True):
            future.set_result(applied)
        self._notify([ops for ops, _ in live])

    def _apply_alone(self, ops: Sequence[Op], future: Future[Applied]) -> None:
        try:
            (applied,) = self._store.apply([ops])
        except Exception as exc:
            logger.error("store refused a batch of %d operations: %s", len(ops), exc)
            future.set_exception(exc)
        else:
            future.set_result(applied)
            self._notify([ops])

    def _notify(self, committed: Sequence[Sequence[Op]]) -> None:
        for listener in self._listeners:
            try:
                listener(committed)
            except Exception:
                logger.exception("a commit listener failed; the data is committed")
