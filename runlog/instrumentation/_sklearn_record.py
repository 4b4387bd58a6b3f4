"""What one recorded scikit-learn fit writes, and into which run.

A top-level fit with no active run gets a run of its own (named after the estimator class,
experiment from ``RUNLOG_EXPERIMENT`` or ``Default``), completed when the fit returns and
failed when it raises. With an active run (``runlog run``, ``with runlog.start_run()``)
the first top-level fit writes its params, metrics and model straight into that run: a
script with one model reads as that model. A second top-level fit in the same run makes it
a sweep: that fit, and every later one, becomes a child run named after the estimator and
the params that differ from the first fit's (``Ridge alpha=0.1``), and the first fit gets
its child run too (its params and last metrics copied, its later metrics going there), so
the sweep compares as a table of runs. No param is ever logged twice with two values.
Successive ``partial_fit`` calls of one estimator share one record, so their metrics form
series. Work that does not need to be on the fit's path (saving the model with joblib,
uploading it, finishing the run, which waits for the collector) runs on one background
thread, in order; `Background.flush` waits for it.
"""

from __future__ import annotations

import concurrent.futures
import copy
import io
import logging
import sys
import threading
import traceback
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from runlog import conventions as c
from runlog._objects import Run, start_run
from runlog.instrumentation._base import current_run, safely, strict
from runlog.instrumentation._sklearn_fit import MAX_PARAM_CHARS, FitRecord, finish, loggable
from runlog.instrumentation._sklearn_metrics import training_metrics
from runlog.instrumentation._sklearn_predictions import Predictions
from runlog.instrumentation._sklearn_search import log_search

_log = logging.getLogger("runlog.internal")

#: The fitted estimator's file in its run.
MODEL_FILE = "model/model.joblib"


@dataclass(slots=True)
class Sweep:
    """The top-level fits recorded into one shared run so far."""

    first: FitRecord
    estimator_class: type
    promoted: bool = False
    names: Counter[str] = field(default_factory=Counter)
    #: The first fit's model as saved, until the run becomes a sweep (then saved in its child).
    model: Any = None


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
    _sweeps: dict[str, Sweep] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _sklearn_version: str = ""

    def flush(self, timeout: float | None = None) -> bool:
        """Wait for the background work, then for the collector to have the runs' data."""
        if not self.background.flush(timeout):
            return False
        return self.last_run is None or self.last_run.flush(timeout)

    def begin(self, estimator: Any, method: str) -> FitRecord:
        """Open the record of a top-level fit: choose its run, log its params."""
        params = {k: loggable(v) for k, v in estimator.get_params(deep=False).items()}
        run = current_run()
        if run is None:
            own = start_run(name=type(estimator).__name__)
            record = FitRecord(own, True, method, params)
        else:
            with self._lock:
                record = self._shared(run, estimator, method, params)
        self.last_run = record.run
        try:
            self._describe(record, estimator)
        except BaseException as error:  # an own run left open would catch every later fit
            if record.owns_run:
                finish(record.run, "".join(traceback.format_exception(error)), c.STATUS_FAILED)
            raise
        return record

    def _shared(self, run: Run, estimator: Any, method: str, params: dict[str, Any]) -> FitRecord:
        previous = self.predictions.target_of(estimator)
        if (
            method == "partial_fit"
            and isinstance(previous, FitRecord)
            and previous.method == method
            and previous.params == params
            and previous.home == run.id
        ):
            return previous
        sweep = self._sweeps.get(run.id)
        if sweep is None:
            record = FitRecord(run, False, method, params, home=run.id)
            self._sweeps[run.id] = Sweep(record, type(estimator))
            return record
        cls = type(estimator)
        if not sweep.promoted:
            sweep.promoted = True
            self._promote(run, sweep, cls, params)
        name = _child_name(cls, params, sweep)
        return FitRecord(run.child_run(name=name), True, method, params, home=run.id)

    def _promote(self, run: Run, sweep: Sweep, cls: type, params: dict[str, Any]) -> None:
        """The shared run's first fit gets its child run, now that it is a sweep."""
        first = sweep.first
        name = _child_name(sweep.estimator_class, first.params, sweep, against=(cls, params))
        child = run.child_run(name=name)
        _copy_description(child, first, sweep.estimator_class)
        first.run = child
        finish(child)
        if sweep.model is not None:
            self.background.submit("sklearn: saving the model", save_model, child, sweep.model)
            sweep.model = None

    def _describe(self, record: FitRecord, estimator: Any) -> None:
        record.run.log_params(record.params)
        record.run.set_tags(estimator_tags(type(estimator)))
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
                self.background.submit(
                    "sklearn: saving the model", save_model, record.run, snapshot
                )
                sweep = self._sweeps.get(record.home or "")
                if sweep is not None and sweep.first is record and not sweep.promoted:
                    sweep.model = snapshot  # saved again in its child if a sweep follows

    def _log_results(self, record: FitRecord, estimator: Any, call: FitCall) -> None:
        record.log_metric("training_duration_s", call.seconds)
        X, y = call.argument(0, "X"), call.argument(1, "y")
        weight = call.kwargs.get("sample_weight")
        metrics = training_metrics(estimator, record.method, X, y, weight, call.result)
        for name, value in metrics.items():
            record.log_metric("training_" + name, value)
        if is_search(estimator):
            log_search(record, estimator, self.max_tuning_runs)

    def cross_validated(self, record: FitRecord, function: str, result: Any, scoring: Any) -> None:
        """A cross-validation call returned: log its scores, finish an own run."""
        try:
            for name, values in cv_scores(function, result, scoring).items():
                record.lists[name] = values
                record.run.log_list(name, values)
                record.log_metric(f"{name}_mean", float(np.mean(values)))
                record.log_metric(f"{name}_std", float(np.std(values)))
        finally:
            if record.owns_run:
                finish(record.run)

    def failed(self, record: FitRecord, error: BaseException) -> None:
        """The fit raised: fail an own run with the traceback (cancel it on Ctrl-C); tag a
        shared one."""
        if record.owns_run and isinstance(error, KeyboardInterrupt):
            finish(record.run, None, c.STATUS_CANCELED)
        elif record.owns_run:
            text = "".join(traceback.format_exception(error))
            finish(record.run, text, c.STATUS_FAILED)
        else:
            record.run.tag("error", f"{type(error).__name__}: {error}"[:1000])


#: Longest text of one param value in a sweep child's name.
MAX_NAME_VALUE_CHARS = 40


def _child_name(
    cls: type,
    params: dict[str, Any],
    sweep: Sweep,
    against: tuple[type, dict[str, Any]] | None = None,
) -> str:
    """``Ridge alpha=0.1``: the class and the params that differ from the other fit's."""
    other_cls, other = against or (sweep.estimator_class, sweep.first.params)
    varying = [k for k in params if other_cls is cls and other.get(k) != params[k]]
    shown = ", ".join(f"{k}={str(params[k])[:MAX_NAME_VALUE_CHARS]}" for k in varying)
    name = f"{cls.__name__} {shown}" if shown else cls.__name__
    sweep.names[name] += 1
    count = sweep.names[name]
    return name if count == 1 else f"{name} ({count})"


def estimator_tags(cls: type) -> dict[str, str]:
    """The tags naming a fit's estimator class."""
    return {
        "estimator_name": cls.__name__,
        "estimator_class": f"{cls.__module__}.{cls.__qualname__}",
    }


def _copy_description(child: Run, record: FitRecord, cls: type) -> None:
    """What the first fit of a sweep logged into the shared run, again in its child."""
    child.log_params({**record.params, **record.results})
    child.set_tags(estimator_tags(cls))
    for name, value in record.logged.items():
        child.log(name, value)
    for name, values in record.lists.items():
        child.log_list(name, values)


def cv_scores(function: str, result: Any, scoring: Any) -> dict[str, list[float]]:
    """Per-fold scores of a cross-validation call's *result*, by ``cv_<scoring>`` name.

    ``cross_val_score`` returns one array (named after *scoring*: ``cv_f1``, else
    ``cv_score``); ``cross_validate`` a dict whose ``test_<name>`` / ``train_<name>``
    arrays become ``cv_<name>`` / ``cv_train_<name>``; ``cross_val_predict`` has no scores.
    """
    if function == "cross_val_score":
        return {f"cv_{scoring_name(scoring)}": _floats(result)}
    if function != "cross_validate" or not isinstance(result, Mapping):
        return {}
    scores = {}
    for key, values in result.items():
        if key.startswith("test_"):
            name = key.removeprefix("test_")
            scores[f"cv_{scoring_name(scoring) if name == 'score' else name}"] = _floats(values)
        elif key.startswith("train_"):
            name = key.removeprefix("train_")
            label = scoring_name(scoring) if name == "score" else name
            scores[f"cv_train_{label}"] = _floats(values)
    return scores


def scoring_name(scoring: Any) -> str:
    """A metric name for a ``scoring`` argument: its string, a scorer's function, "score"."""
    if isinstance(scoring, str):
        return scoring
    function = getattr(scoring, "_score_func", scoring)
    name = getattr(function, "__name__", None)
    return (
        name if isinstance(name, str) and name.isidentifier() and name != "<lambda>" else ("score")
    )


def _floats(values: Any) -> list[float]:
    return [float(v) for v in np.asarray(values, dtype=float).ravel()]


def save_model(run: Run, estimator: Any) -> None:
    """Upload *estimator* pickled with joblib as *run*'s model file (`MODEL_FILE`)."""
    import joblib

    buffer = io.BytesIO()
    try:
        joblib.dump(estimator, buffer)
    except Exception as exc:  # the user's model does not pickle (a lambda inside): say so there
        run.tag("model_error", f"{type(exc).__name__}: {exc}"[:MAX_PARAM_CHARS])
        _log.info("runlog: %s not saved: %r", type(estimator).__name__, exc)
        return
    run.upload_file(MODEL_FILE, buffer.getvalue())


def is_search(estimator: Any) -> bool:
    """Whether *estimator* is a hyperparameter search (GridSearchCV, RandomizedSearchCV, …)."""
    search = sys.modules.get("sklearn.model_selection._search")
    return search is not None and isinstance(estimator, search.BaseSearchCV)
