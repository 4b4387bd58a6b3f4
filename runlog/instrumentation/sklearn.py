"""Auto-instrumentation of scikit-learn: `SklearnInstrumentor`.

>>> from runlog.instrumentation.sklearn import SklearnInstrumentor
>>> SklearnInstrumentor().instrument(log_models=True, max_tuning_runs=5)

What is wrapped, and where:

- ``fit``, ``fit_transform``, ``fit_predict`` and ``partial_fit`` of every estimator class
  (and mixin) of scikit-learn, in the class that defines them (a subclass that inherits the
  method is covered by its base). Classes are found by scanning each ``sklearn`` module as
  it is imported (a post-import hook per module of the installed package; nothing is
  imported here), which costs a fraction of ``sklearn.utils.all_estimators`` (that imports
  all of scikit-learn, about 1.7 s).
- ``predict`` and ``predict_proba`` the same way, to remember the outputs of tracked models.
- The common ``sklearn.metrics`` functions, both in the module that defines them and in the
  ``sklearn.metrics`` namespace, wrapped as soon as ``sklearn.metrics`` is imported, so that
  ``from sklearn.metrics import mean_squared_error`` in user code gets the wrapped one.

- ``cross_val_score``, ``cross_validate`` and ``cross_val_predict`` in the
  ``sklearn.model_selection`` namespace: one record of the estimator with the fold scores.

A top-level fit (one called from code outside scikit-learn, not inside another recorded
fit) logs its params, duration, training metrics, estimator class and scikit-learn version
and saves the fitted model (see `runlog.instrumentation._sklearn_record` for which run it
lands in); fits inside it (a Pipeline's steps, a search's candidates, ``fit`` calling
``score``) and fits scikit-learn runs itself (cross-validation folds, a LabelEncoder inside a
metric function) are not recorded. The wrappers pickle as references to what they replace
(`runlog.instrumentation._base.PicklableWrapper`).

Limits: a metric or cross-validation function imported by name (``from sklearn.metrics
import r2_score``) *before* instrumenting is the unwrapped one (call ``autolog()`` first;
``runlog run`` always does). Suppression is per thread/context; the caller check is not:
fits that scikit-learn runs on joblib's threads or in its worker processes are not recorded
either. Estimator classes defined outside scikit-learn are recorded only through methods
they inherit from it (``TransformerMixin.fit_transform``).
"""

from __future__ import annotations

import functools
import importlib.util
import sys
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from types import FrameType
from typing import Any

from runlog.exceptions import ConfigError
from runlog.instrumentation._base import (
    _OTEL_OPTIONS,
    Instrumentor,
    Target,
    Wrapper,
    safely,
    suppress,
    suppressed,
)
from runlog.instrumentation._sklearn_fit import FitRecord
from runlog.instrumentation._sklearn_predictions import Target as PredictionTarget
from runlog.instrumentation._sklearn_predictions import log_metric, user_frame
from runlog.instrumentation._sklearn_record import FitCall, Recorder

#: Methods whose top-level calls are recorded as fits.
FIT_METHODS = ("fit", "fit_transform", "fit_predict", "partial_fit")
#: Methods whose outputs are remembered for post-training metrics.
PREDICT_METHODS = ("predict", "predict_proba")
#: ``sklearn.metrics`` functions whose results on tracked predictions are logged.
METRICS = (
    "accuracy_score", "adjusted_rand_score", "average_precision_score",
    "balanced_accuracy_score", "cohen_kappa_score", "explained_variance_score", "f1_score",
    "fbeta_score", "hamming_loss", "jaccard_score", "log_loss", "matthews_corrcoef",
    "max_error", "mean_absolute_error", "mean_absolute_percentage_error",
    "mean_squared_error", "mean_squared_log_error", "median_absolute_error",
    "precision_score", "r2_score", "recall_score", "roc_auc_score",
    "root_mean_squared_error", "top_k_accuracy_score", "zero_one_loss",
)  # fmt: skip
#: ``sklearn.model_selection`` functions recorded as one fit of their estimator, with scores.
CV_FUNCTIONS = ("cross_val_score", "cross_validate", "cross_val_predict")
#: Parts of the installed package that hold no estimators (and must not be hooked).
_SKIPPED_PARTS = frozenset({"tests", "externals", "_build_utils", "__check_build", "conftest"})
_OPTIONS = frozenset({"log_models", "max_tuning_runs"})


class SklearnInstrumentor(Instrumentor):
    """Records scikit-learn fits, searches and post-training metrics into runs.

    Options of `instrument`: ``log_models`` (bool, default True: save each fitted model
    with joblib as a run file) and ``max_tuning_runs`` (int or None, default 5: how many
    of a search's best candidates become child runs; None for all).
    """

    name = "sklearn"
    libraries = ("scikit-learn >= 1.4",)

    def _setup(self) -> None:
        super()._setup()
        self._recorder = Recorder(closed=True)

    def instrument(self, **options: Any) -> None:
        """Wrap scikit-learn (now, or when it is imported). Idempotent.

        Raises:
            ConfigError: An unknown option, or a value of the wrong type.
        """
        _check_options(options)
        super().instrument(**options)

    def flush(self, timeout: float | None = None) -> bool:
        """Wait until models saved and runs finished in the background are done.

        Returns:
            False if *timeout* seconds passed first.
        """
        return self._recorder.flush(timeout)

    def _on_instrument(self) -> None:
        self._recorder = Recorder(
            log_models=bool(self.options.get("log_models", True)),
            max_tuning_runs=self.options.get("max_tuning_runs", 5),
        )

    def _on_uninstrument(self) -> None:
        self._recorder.closed = True  # proxies the user still holds call straight through
        self._recorder.background.flush()

    def _hooked_modules(self) -> set[str]:
        return set(sklearn_modules())

    def _targets_in(self, module: Any) -> Iterable[Target]:
        wrappers = make_wrappers(self._recorder)
        yield from class_targets(module, wrappers)
        if module.__name__ == "sklearn.metrics":
            yield from metric_targets(module, wrappers["metric"])
        if module.__name__ == "sklearn.model_selection":
            yield from cv_targets(module, wrappers["cv"])


def _check_options(options: dict[str, Any]) -> None:
    unknown = sorted(set(options) - _OPTIONS - _OTEL_OPTIONS)
    if unknown:
        raise ConfigError(
            f"unknown sklearn autolog option(s) {unknown}; expected {sorted(_OPTIONS)}"
        )
    if not isinstance(options.get("log_models", True), bool):
        raise ConfigError(f"log_models must be True or False, not {options['log_models']!r}")
    limit = options.get("max_tuning_runs", 5)
    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit < 0):
        raise ConfigError(f"max_tuning_runs must be an int >= 0 or None (all), not {limit!r}")


@functools.cache
def sklearn_modules() -> frozenset[str]:
    """Names of the installed scikit-learn's Python modules, found without importing it."""
    spec = importlib.util.find_spec("sklearn")
    if spec is None or not spec.submodule_search_locations:
        return frozenset()
    names = set()
    for location in spec.submodule_search_locations:
        root = Path(location)
        for path in root.rglob("*.py"):
            parts = path.relative_to(root).with_suffix("").parts
            if _SKIPPED_PARTS.isdisjoint(parts):
                names.add(".".join(("sklearn", *parts[: -1 if parts[-1] == "__init__" else None])))
    return frozenset(names)


# --- the table: targets found by scanning a module -----------------------------------------
def class_targets(module: Any, wrappers: dict[str, Wrapper]) -> Iterator[Target]:
    """The fit/predict methods that classes defined in *module* define themselves."""
    for name, cls in list(vars(module).items()):
        if not _is_estimator_class(cls, module):
            continue
        for method in FIT_METHODS + PREDICT_METHODS:
            if method in cls.__dict__:
                kind = "fit" if method in FIT_METHODS else "predict"
                yield Target(module.__name__, name, method, wrappers[kind])


def _is_estimator_class(cls: Any, module: Any) -> bool:
    if not isinstance(cls, type) or cls.__module__ != module.__name__:
        return False  # defined elsewhere: wrapped when its own module is scanned
    # By name: sklearn.base may still be half imported when its first dependants load.
    return cls.__name__.endswith("Mixin") or any(
        c.__name__ == "BaseEstimator" and c.__module__ == "sklearn.base" for c in cls.__mro__
    )


def metric_targets(module: Any, wrapper: Wrapper) -> Iterator[Target]:
    """Each metric function in the ``sklearn.metrics`` namespace (where users import from).

    The modules that define them keep the originals: scikit-learn's own references (the
    scorers behind ``scoring="f1"``) then still pickle by reference, which they could not
    once the name they pickle as (``sklearn.metrics._classification.f1_score``) was a proxy.
    """
    for name in METRICS:
        if getattr(module, name, None) is not None:  # else not in this scikit-learn version
            yield Target(module.__name__, "", name, wrapper)


def cv_targets(module: Any, wrapper: Wrapper) -> Iterator[Target]:
    """The cross-validation functions in the ``sklearn.model_selection`` namespace."""
    for name in CV_FUNCTIONS:
        if getattr(module, name, None) is not None:
            yield Target(module.__name__, "", name, wrapper)


# --- the wrappers ---------------------------------------------------------------------------
def make_wrappers(recorder: Recorder) -> dict[str, Wrapper]:
    """The wrapt wrappers, given their collaborator."""
    return {
        "fit": functools.partial(_wrap_fit, recorder),
        "predict": functools.partial(_wrap_predict, recorder),
        "metric": functools.partial(_wrap_metric, recorder),
        "cv": functools.partial(_wrap_cv, recorder),
    }


def _wrap_fit(
    recorder: Recorder, wrapped: Any, instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> Any:
    if recorder.closed or suppressed() or instance is None:
        return wrapped(*args, **kwargs)
    if user_frame(sys._getframe(1)) is None:
        # scikit-learn's own fit: a fold of cross_val_score, a LabelEncoder in a metric
        with suppress():
            return wrapped(*args, **kwargs)
    record = safely("sklearn: starting a fit record", recorder.begin, instance, wrapped.__name__)
    started = time.perf_counter()
    result = _call(recorder, record, "a failed fit", wrapped, args, kwargs)
    if record is not None:
        call = FitCall(args, kwargs, result, time.perf_counter() - started)
        safely("sklearn: recording a fit", recorder.finished, record, instance, call)
    return result


def _wrap_predict(
    recorder: Recorder, wrapped: Any, instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> Any:
    output = wrapped(*args, **kwargs)
    if recorder.closed or suppressed():
        return output
    target = recorder.predictions.target_of(instance)
    if target is not None:
        frame = user_frame(sys._getframe(1))
        if frame is not None:
            X = args[0] if args else kwargs.get("X")
            _remember(recorder, target, X, output, frame)
    return output


def _wrap_cv(
    recorder: Recorder, wrapped: Any, instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> Any:
    if recorder.closed or suppressed():
        return wrapped(*args, **kwargs)
    frame = user_frame(sys._getframe(1))
    estimator = args[0] if args else kwargs.get("estimator")
    if frame is None or not hasattr(estimator, "get_params"):
        with suppress():
            return wrapped(*args, **kwargs)
    function = wrapped.__name__
    record = safely(
        "sklearn: starting a cross-validation record", recorder.begin, estimator, function
    )
    result = _call(recorder, record, "a failed cross-validation", wrapped, args, kwargs)
    if record is not None:
        scoring = kwargs.get("scoring")
        safely(
            "sklearn: recording cross-validation scores",
            recorder.cross_validated,
            record,
            function,
            result,
            scoring,
        )
        if function == "cross_val_predict":
            X = args[1] if len(args) > 1 else kwargs.get("X")
            _remember(recorder, record, X, result, frame)
    return result


def _wrap_metric(
    recorder: Recorder, wrapped: Any, instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> Any:
    if recorder.closed or suppressed() or not recorder.predictions:
        return wrapped(*args, **kwargs)
    found = safely("sklearn: matching a metric call", recorder.predictions.find, args, kwargs)
    with suppress():  # metrics call one another (f1_score -> fbeta_score -> ...)
        value = wrapped(*args, **kwargs)
    if found is not None:
        safely(
            "sklearn: logging a post-training metric", log_metric, found, wrapped.__name__, value
        )
    return value


def _call(
    recorder: Recorder,
    record: FitRecord | None,
    failure: str,
    wrapped: Any,
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
) -> Any:
    """Call scikit-learn with recording suppressed inside (its own fits are no records);
    if it raises, mark *record* (when there is one) failed, saying *failure*, and re-raise."""
    try:
        with suppress():
            return wrapped(*args, **kwargs)
    except BaseException as error:
        if record is not None:
            safely(f"sklearn: recording {failure}", recorder.failed, record, error)
        raise


def _remember(
    recorder: Recorder, target: PredictionTarget, X: Any, output: Any, frame: FrameType
) -> None:
    """Remember *output*, predicted by *target*'s model from *X* in *frame*, for metrics."""
    remember = recorder.predictions.remember
    safely("sklearn: remembering predictions", remember, target, X, output, frame)


__all__ = ["SklearnInstrumentor"]
