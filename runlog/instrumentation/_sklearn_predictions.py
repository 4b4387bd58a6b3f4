"""Post-training metrics: ``sklearn.metrics`` calls on predictions of a tracked model.

``predict`` / ``predict_proba`` of a model whose fit was recorded remembers its output (by
``id``, checked with a weak reference, in a small bounded map) together with the fit's
record and the name of the variable that held the input in the caller's frame (``X_test``).
A metric function that later receives that output logs its value into the fit's run as
``<metric>_<data set>`` (``mean_squared_error_X_test``), or ``<metric>`` when the name
cannot be known. Outputs that cannot be weakly referenced (plain lists) are not tracked.
"""

from __future__ import annotations

import weakref
from collections import OrderedDict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from types import FrameType
from typing import Any, Protocol

#: How many recent prediction outputs are remembered.
MAX_TRACKED_OUTPUTS = 64


class Target(Protocol):
    """Where a fit's metrics go (the fit's record)."""

    def log_metric(self, name: str, value: Any) -> None:
        """Log *name* (already without the record's prefix) into the record's run."""


@dataclass(frozen=True, slots=True)
class Prediction:
    """One remembered prediction output."""

    output: weakref.ref[Any]
    target: Target
    dataset: str | None


class Predictions:
    """The fitted models being tracked and their recent prediction outputs."""

    def __init__(self, size: int = MAX_TRACKED_OUTPUTS) -> None:
        self.models: weakref.WeakKeyDictionary[Any, Target] = weakref.WeakKeyDictionary()
        self._outputs: OrderedDict[int, Prediction] = OrderedDict()
        self._size = size

    def __bool__(self) -> bool:
        """True when some prediction output is remembered (the metric wrappers' fast path)."""
        return bool(self._outputs)

    def target_of(self, estimator: Any) -> Target | None:
        """The record of *estimator*'s last recorded fit, if any."""
        try:
            return self.models.get(estimator)
        except TypeError:  # not weakly referenceable
            return None

    def remember(self, target: Target, X: Any, output: Any, frame: FrameType | None) -> None:
        """Remember *output*, predicted by the model of *target* from *X* in *frame*."""
        try:
            reference = weakref.ref(output)
        except TypeError:
            return
        self._outputs[id(output)] = Prediction(reference, target, dataset_name(X, frame))
        self._outputs.move_to_end(id(output))
        while len(self._outputs) > self._size:
            self._outputs.popitem(last=False)

    def find(self, args: Iterable[Any], kwargs: Mapping[str, Any]) -> Prediction | None:
        """The remembered prediction among a metric call's arguments, if any."""
        for value in (*args, *kwargs.values()):
            found = self._outputs.get(id(value))
            if found is not None and found.output() is value:
                return found
        return None


def log_metric(prediction: Prediction, metric: str, value: Any) -> None:
    """Log a metric function's scalar result for *prediction*'s model."""
    if isinstance(value, (bool, str)) or not hasattr(value, "__float__"):
        return  # reports (classification_report) are not one metric value
    if getattr(value, "shape", ()) != ():
        return  # nor are per-output arrays (multioutput="raw_values")
    name = f"{metric}_{prediction.dataset}" if prediction.dataset else metric
    prediction.target.log_metric(name, float(value))


def dataset_name(X: Any, frame: FrameType | None) -> str | None:
    """The name of the variable holding *X* in *frame* (``X_test``), if there is one."""
    if frame is None:
        return None
    for name, value in frame.f_locals.items():
        if value is X and name.isidentifier() and not name.startswith("_"):
            return name
    return None


def user_frame(frame: FrameType | None) -> FrameType | None:
    """The calling user frame; None for sklearn's own calls (``score``, CV loops)."""
    while frame is not None and frame.f_globals.get("__name__", "").startswith("wrapt"):
        frame = frame.f_back  # wrapt's pure-Python fallback adds frames of its own
    if frame is None:
        return None
    module = frame.f_globals.get("__name__", "")
    return None if module == "sklearn" or module.startswith("sklearn.") else frame
