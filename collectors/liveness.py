"""The sweeper: finds runs whose producer went silent (see `collectors.store._liveness`).

A runlog client sends ``runlog.run.heartbeat`` every ``RUNLOG_HEARTBEAT_INTERVAL`` seconds
(default 10) while a run is live, and every record of a run is a sign of life too. The
sweeper hands a `SweepSilentRuns` operation to the single writer every few seconds, like any
other write: runs silent for ``--heartbeat-timeout`` seconds (default 60) become
NotResponding, and after ``--dead-after`` more seconds (default 600) Failed, with the reason
in the run's error. Data of such a run arriving later returns it to Running.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from collectors.ops import SweepSilentRuns
from collectors.writer import Writer, WriterError

logger = logging.getLogger(__name__)

_NS = 1_000_000_000
_MAX_INTERVAL_S = 5.0
_MIN_INTERVAL_S = 0.05
_COMMIT_TIMEOUT_S = 60.0


def sweep_interval(timeout_s: float) -> float:
    """Seconds between sweeps: a quarter of the timeout, between 0.05 and 5."""
    return min(max(timeout_s / 4, _MIN_INTERVAL_S), _MAX_INTERVAL_S)


class Sweeper:
    """Sweeps silent runs from a background thread.

    Args:
        writer: the started writer that applies the sweep.
        timeout_s: silence after which a watched live run is NotResponding.
        dead_after_s: further silence after which it is Failed.
        clock: Unix ns now (tests may pin it).
    """

    def __init__(
        self,
        writer: Writer,
        timeout_s: float,
        dead_after_s: float,
        clock: Callable[[], int] = time.time_ns,
    ) -> None:
        self._writer = writer
        self._timeout_ns = int(timeout_s * _NS)
        self._dead_after_ns = int(dead_after_s * _NS)
        self._interval_s = sweep_interval(timeout_s)
        self._clock = clock
        self._since_ns = clock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._failing = False

    def start(self) -> None:
        """Start sweeping (once)."""
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="runlog-sweeper", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        """Stop sweeping and wait for the thread."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join()

    def sweep(self) -> None:
        """Sweep once now; a failure is logged (once until a sweep succeeds again)."""
        op = SweepSilentRuns(self._clock(), self._timeout_ns, self._dead_after_ns, self._since_ns)
        try:
            self._writer.submit([op]).result(_COMMIT_TIMEOUT_S)
        except WriterError:
            return  # busy or stopping: the next sweep will do
        except Exception as exc:  # the store failed; keep sweeping, say it once
            if not self._failing:
                logger.warning("sweeping silent runs failed (%s); will retry", exc)
            self._failing = True
            return
        self._failing = False

    def _run(self) -> None:
        while not self._stop.wait(self._interval_s):
            self.sweep()
