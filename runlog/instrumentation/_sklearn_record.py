"""What one recorded scikit-learn fit writes, and into which run.

A top-level fit with no active run gets a run of its own (named after the estimator class,
experiment from ``RUNLOG_EXPERIMENT`` or ``Default``), completed when the fit returns and
failed when it raises. With an active run the fit lands in it under a prefix: the class
name in lower case (``ridge.alpha``), ``ridge_2.`` for the second fit of that class in the
run; successive ``partial_fit`` calls of one estimator share its prefix, so their metrics
form series. Work that does not need to be on the fit's path (saving the model with joblib,
uploading it, finishing the run, which waits for the collector) runs on one background
thread, in order; `Background.flush` waits for it.
"""

from __future__ import annotations

import concurrent.futures
import copy
import io
import sys
import threading
import traceback
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from runlog import conventions as c
from runlog.instrumentation._base import current_run, safely, strict
from runlog.instrumentation._sklearn_metrics import training_metrics
from runlog.instrumentation._sklearn_predictions import Predictions
from runlog.run import Run

#: Longest text kept for one param value (a repr of a grid, an array, …).
MAX_PARAM_CHARS = 250
#: The fitted estimator's file in its run (``model/<prefix>.joblib`` inside a shared run).
MODEL_FILE = "model/model.joblib"


@dataclass(slots=True)
class FitRecord:
    """One recorded fit: the run it writes to and the prefix of its names there."""

    run: Run
    prefix: str
    owns_run: bool
    method: str

    def log_metric(self, name: str, value: Any) -> None:
        """Log metric *name* under this fit's prefix."""
        self.run.log(self.prefix + name, value)

    @property
    def model_file(self) -> str:
        return f"model/{self.prefix.rstrip('.')}.joblib" if self.prefix else MODEL_FILE


@dataclass(frozen=True, slots=True)
class FitCall:
    """What the fit was called with and what it returned."""

    args: tuple[Any, ...]
    kwargs: Mapping[str, Any]
    result: Any
    seconds: float

    def argument(self, index: int, name: str) -> Any:
        return self.args[index] if len(self.args) > index else self.kwargs.get(name)


class Background:
    """One worker thread for runlog's after-fit work, run in submission order.

    Interpreter shutdown waits for it (concurrent.futures joins its threads before atexit).
    In strict mode an error of a job is kept and raised by the next `flush`.
    """

    def __init__(self) -> None:
        self._executor: concurrent.futures.ThreadPoolExecutor | None = None
        self._lock = threading.Lock()
        self._errors: list[BaseException] = []

    def submit(self, site: str, job: Callable[..., Any], *args: Any) -> None:
        with self._lock:
            if self._executor is None:
                self._executor = concurrent.futures.ThreadPoolExecutor(
                    1, thread_name_prefix="runlog-sklearn"
                )
            self._executor.submit(self._run, site, job, args)

    def _run(self, site: str, job: Callable[..., Any], args: tuple[Any, ...]) -> None:
        try:
            safely(site, job, *args)
        except Exception as exc:  # only in strict mode: surfaced by flush()
            self._errors.append(exc)

    def flush(self, timeout: float | None = None) -> bool:
        """Wait until the jobs submitted so far ran; False on timeout."""
        with self._lock:
            executor = self._executor
        if executor is not None:
            try:
                executor.submit(lambda: None).result(timeout)
            except concurrent.futures.TimeoutError:
                return False
        if self._errors and strict():
            raise self._errors.pop(0)
        return True


@dataclass
class Recorder:
    """Writes recorded fits into runs (the collaborator the fit wrapper is given)."""

    log_models: bool = True
    max_tuning_runs: int | None = 5
    closed: bool = False
    predictions: Predictions = field(default_factory=Predictions)
    background: Background = field(default_factory=Background)
    last_run: Run | None = None
    _counts: dict[str, Counter[str]] = field(default_factory=dict)
    _sklearn_version: str = ""

    def flush(self, timeout: float | None = None) -> bool:
        """Wait for the background work, then for the collector to have the runs' data."""
        if not self.background.flush(timeout):
            return False
        return self.last_run is None or self.last_run.flush(timeout)

    def begin(self, estimator: Any, method: str) -> FitRecord:
        """Open the record of a top-level fit: choose its run and prefix, log its params."""
        run = current_run()
        if run is None:
            import runlog

            record = FitRecord(runlog.start_run(name=type(estimator).__name__), "", True, method)
        else:
            record = self._shared(run, estimator, method)
        self.last_run = record.run
        try:
            self._describe(record, estimator)
        except BaseException as error:  # an own run left open would catch every later fit
            if record.owns_run:
                finish(record.run, "".join(traceback.format_exception(error)), c.STATUS_FAILED)
            raise
        return record

    def _shared(self, run: Run, estimator: Any, method: str) -> FitRecord:
        previous = self.predictions.target_of(estimator)
        if (
            method == "partial_fit"
            and isinstance(previous, FitRecord)
            and previous.run is run
            and previous.method == method
        ):
            return previous
        base = type(estimator).__name__.lower()
        counts = self._counts.setdefault(run.id, Counter())
        counts[base] += 1
        number = counts[base]
        return FitRecord(run, f"{base}." if number == 1 else f"{base}_{number}.", False, method)

    def _describe(self, record: FitRecord, estimator: Any) -> None:
        prefix, cls = record.prefix, type(estimator)
        params = estimator.get_params(deep=False)
        record.run.log_params({prefix + k: loggable(v) for k, v in params.items()})
        record.run.set_tags(
            {
                prefix + "estimator_name": cls.__name__,
                prefix + "estimator_class": f"{cls.__module__}.{cls.__qualname__}",
            }
        )
        if not self._sklearn_version:
            import sklearn

            self._sklearn_version = sklearn.__version__
        record.run.add_properties({"sklearn_version": self._sklearn_version})

    def finished(self, record: FitRecord, estimator: Any, call: FitCall) -> None:
        """The fit returned: log duration and metrics, save the model, finish an own run."""
        try:
            self._log_results(record, estimator, call)
        finally:  # whatever failed above, an own run must not stay open (and active)
            self.predictions.models[estimator] = record
            if record.owns_run:
                finish(record.run)
            if self.log_models:
                # A shallow copy is enough: a later fit or set_params rebinds attributes.
                # Submitted last: the woken worker then competes less with this thread.
                snapshot = copy.copy(estimator)
                self.background.submit("sklearn: saving the model", save_model, record, snapshot)

    def _log_results(self, record: FitRecord, estimator: Any, call: FitCall) -> None:
        record.log_metric("training_duration_s", call.seconds)
        X, y = call.argument(0, "X"), call.argument(1, "y")
        weight = call.kwargs.get("sample_weight")
        metrics = training_metrics(estimator, record.method, X, y, weight, call.result)
        for name, value in metrics.items():
            record.log_metric("training_" + name, value)
        if is_search(estimator):
            from runlog.instrumentation._sklearn_search import log_search

            log_search(record, estimator, self.max_tuning_runs)

    def failed(self, record: FitRecord, error: BaseException) -> None:
        """The fit raised: fail an own run with the traceback (cancel it on Ctrl-C); tag a
        shared one."""
        if record.owns_run and isinstance(error, KeyboardInterrupt):
            finish(record.run, None, c.STATUS_CANCELED)
        elif record.owns_run:
            text = "".join(traceback.format_exception(error))
            finish(record.run, text, c.STATUS_FAILED)
        else:
            record.run.tag(record.prefix + "error", f"{type(error).__name__}: {error}"[:1000])


def finish(run: Run, error: str | None = None, status: str = c.STATUS_COMPLETED) -> None:
    """End *run* with *status* now, without waiting for the collector.

    This is ``Run.complete`` / ``fail`` / ``cancel`` minus their flush: a sweep of fits
    would otherwise pay one collector round trip per fit, where the exporter sends the end
    events with everything else within its interval (and at exit).
    """
    run._finish(status, None if error is None else error[-c.MAX_VALUE_LENGTH :], wait=False)


def save_model(record: FitRecord, estimator: Any) -> None:
    """Upload *estimator* pickled with joblib as the record's model file."""
    import joblib

    buffer = io.BytesIO()
    joblib.dump(estimator, buffer)
    record.run.upload_file(record.model_file, buffer.getvalue())


def loggable(value: Any) -> Any:
    """A param value a run can store: plain values as they are, estimators by class name."""
    if value is None:
        return "None"
    if type(value).__module__ == "numpy" and getattr(value, "ndim", None) == 0:
        value = value.item()  # numpy scalar
    if isinstance(value, (bool, int, float)):
        return value
    if isinstance(value, str):
        return value if len(value) <= MAX_PARAM_CHARS else value[: MAX_PARAM_CHARS - 1] + "…"
    if hasattr(value, "get_params") and not isinstance(value, type):
        return type(value).__name__
    if callable(value) and hasattr(value, "__name__"):
        return str(value.__name__)
    return loggable(repr(value))


def is_search(estimator: Any) -> bool:
    """Whether *estimator* is a hyperparameter search (GridSearchCV, RandomizedSearchCV, …)."""
    search = sys.modules.get("sklearn.model_selection._search")
    return search is not None and isinstance(estimator, search.BaseSearchCV)
