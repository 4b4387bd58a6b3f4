"""System metrics of a run: CPU, memory and GPU, sampled by a background thread (opt-in).

Turn it on with ``runlog.start_run(..., system_metrics=True)``,
``Experiment.start_logging(system_metrics=True)``, or ``RUNLOG_SYSTEM_METRICS=1`` in the
environment (which also covers the run of `Run.get_context`). Every
``RUNLOG_SYSTEM_METRICS_INTERVAL`` seconds (default 5) the run gets points of:

==================================  ===============================================
``system/cpu_percent``              whole machine, since the previous sample
``system/memory_used_bytes``        whole machine
``system/memory_percent``           whole machine
``system/process_rss_bytes``        this process
``system/gpu{i}/utilization_percent``  per NVIDIA GPU, when ``pynvml`` (nvidia-ml-py)
``system/gpu{i}/memory_used_bytes``    is importable and a driver answers
==================================  ===============================================

Needs ``psutil`` (``pip install runlog-ml[system]``); without it one warning is logged and
nothing is sampled. The sampler stops when the run finishes and never raises.
"""

from __future__ import annotations

import logging
import os
import threading
from typing import Any

from runlog import _lifecycle
from runlog import conventions as c
from runlog._guard import mark_thread
from runlog._recorder import RunRecorder
from runlog.extras import missing_message

_log = logging.getLogger("runlog.internal")

ENV_ENABLED = c.ENV_SYSTEM_METRICS
ENV_INTERVAL = c.ENV_SYSTEM_METRICS_INTERVAL
DEFAULT_INTERVAL = 5.0


def enabled_by_env() -> bool:
    """Tell whether ``RUNLOG_SYSTEM_METRICS`` asks for system metrics (1, true, yes, on)."""
    return os.environ.get(ENV_ENABLED, "").strip().lower() in ("1", "true", "yes", "on")


def interval_from_env() -> float:
    """``RUNLOG_SYSTEM_METRICS_INTERVAL`` in seconds (default 5, at least 0.05)."""
    try:
        return max(0.05, float(os.environ.get(ENV_INTERVAL, DEFAULT_INTERVAL)))
    except ValueError:
        return DEFAULT_INTERVAL


class _Gpus:
    """NVIDIA GPUs through pynvml, or none."""

    def __init__(self) -> None:
        self.nvml: Any = None
        self.handles: list[Any] = []
        try:
            import pynvml

            pynvml.nvmlInit()
            count = pynvml.nvmlDeviceGetCount()
            self.handles = [pynvml.nvmlDeviceGetHandleByIndex(i) for i in range(count)]
            self.nvml = pynvml
        except Exception:  # no pynvml, no driver, no GPU: no GPU metrics
            self.handles = []

    def sample(self) -> dict[str, float | int]:
        points: dict[str, float | int] = {}
        for index, handle in enumerate(self.handles):
            try:
                rates = self.nvml.nvmlDeviceGetUtilizationRates(handle)
                memory = self.nvml.nvmlDeviceGetMemoryInfo(handle)
            except Exception:
                continue
            points[f"system/gpu{index}/utilization_percent"] = float(rates.gpu)
            points[f"system/gpu{index}/memory_used_bytes"] = int(memory.used)
        return points


class Sampler:
    """The sampling thread of one run; `stop` ends it (also called when the run finishes)."""

    def __init__(self, run: RunRecorder, interval: float) -> None:
        import psutil

        self.run = run
        self.interval = interval
        self._psutil = psutil
        self._process = psutil.Process()
        self._gpus = _Gpus()
        self._stopped = threading.Event()
        psutil.cpu_percent(interval=None)  # the first call only starts the measurement
        self._thread = threading.Thread(
            target=self._loop, name=f"runlog-system-metrics-{run.id}", daemon=True
        )

    def start(self) -> Sampler:
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop sampling (no point is logged after this returns, bar one in flight)."""
        self._stopped.set()

    def sample(self) -> dict[str, float | int]:
        """One sample of every metric, by name."""
        memory = self._psutil.virtual_memory()
        points: dict[str, float | int] = {
            "system/cpu_percent": float(self._psutil.cpu_percent(interval=None)),
            "system/memory_used_bytes": int(memory.used),
            "system/memory_percent": float(memory.percent),
            "system/process_rss_bytes": int(self._process.memory_info().rss),
        }
        points.update(self._gpus.sample())
        return points

    def _loop(self) -> None:
        mark_thread()
        while not self._stopped.wait(self.interval):
            try:
                points = self.sample()
            except Exception:
                _log.warning(
                    "system metrics of run %s: sampling failed", self.run.id, exc_info=True
                )
                return
            if self._stopped.is_set() or self.run.finished:
                return
            for name, value in points.items():
                self.run.log(name, value)


def start(run: RunRecorder, interval: float | None = None) -> Sampler | None:
    """Sample system metrics into *run* until it finishes; None when psutil is missing.

    Never raises: trouble is logged on ``runlog.internal``.
    """
    try:
        sampler = Sampler(run, interval_from_env() if interval is None else interval)
    except ImportError as exc:
        _log.warning("%s", missing_message("system metrics", exc))
        return None
    except Exception:
        _log.warning("system metrics of run %s not started", run.id, exc_info=True)
        return None
    _lifecycle.on_finish(run, sampler.stop)
    return sampler.start()


__all__ = ["ENV_ENABLED", "ENV_INTERVAL", "Sampler", "enabled_by_env", "start"]
