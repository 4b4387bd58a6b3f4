"""Training-set metrics computed in numpy equal scikit-learn's own functions."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

pytest.importorskip("sklearn")

from sklearn import metrics
from sklearn.linear_model import LinearRegression, LogisticRegression

from runlog.instrumentation._sklearn_metrics import (
    TRAINING_METRICS_MAX_ROWS,
    classification_metrics,
    regression_metrics,
    training_metrics,
)

RNG = np.random.default_rng(0)


def sklearn_classification(model: Any, X: Any, y: Any, weights: Any) -> dict[str, float]:
    predicted, proba = model.predict(X), model.predict_proba(X)
    binary = len(model.classes_) == 2
    average = (
        {"average": "binary", "pos_label": model.classes_[1]} if binary else {"average": "weighted"}
    )
    auc = (
        metrics.roc_auc_score(y == model.classes_[1], proba[:, 1], sample_weight=weights)
        if binary
        else metrics.roc_auc_score(
            y, proba, multi_class="ovr", average="weighted", sample_weight=weights
        )
    )
    return {
        "accuracy_score": metrics.accuracy_score(y, predicted, sample_weight=weights),
        "precision_score": metrics.precision_score(
            y, predicted, sample_weight=weights, zero_division=0, **average
        ),
        "recall_score": metrics.recall_score(
            y, predicted, sample_weight=weights, zero_division=0, **average
        ),
        "f1_score": metrics.f1_score(
            y, predicted, sample_weight=weights, zero_division=0, **average
        ),
        "log_loss": metrics.log_loss(y, proba, sample_weight=weights),
        "roc_auc_score": auc,
    }


@pytest.mark.parametrize("labels", [["no", "yes"], [0, 1, 2], ["a", "b", "c", "d"]])
@pytest.mark.parametrize("weighted", [False, True])
def test_classification_metrics_equal_sklearns(labels: list[Any], weighted: bool) -> None:
    X = RNG.normal(size=(80, 3)).round(1)  # rounded: tied probabilities exercise the AUC ties
    y = np.array(labels, dtype=object if isinstance(labels[0], str) else int)[
        RNG.integers(0, len(labels), size=80)
    ]
    weights = RNG.uniform(0.5, 2.0, size=80) if weighted else None
    model = LogisticRegression(max_iter=300).fit(X, y, sample_weight=weights)
    expected = sklearn_classification(model, X, y, weights)
    assert expected == pytest.approx(classification_metrics(model, X, y, weights))


def test_classification_metrics_without_a_class_in_y_leave_auc_out() -> None:
    X = RNG.normal(size=(30, 2))
    y = np.array([0, 1, 2] * 10)
    model = LogisticRegression().fit(X, y)
    got = classification_metrics(model, X[y != 2], y[y != 2])
    assert "roc_auc_score" not in got
    assert metrics.accuracy_score(y[y != 2], model.predict(X[y != 2])) == pytest.approx(
        got["accuracy_score"]
    )


@pytest.mark.parametrize("shape", [(50,), (50, 3)])
@pytest.mark.parametrize("weighted", [False, True])
def test_regression_metrics_equal_sklearns(shape: tuple[int, ...], weighted: bool) -> None:
    truth = RNG.normal(size=shape)
    predicted = truth + RNG.normal(scale=0.3, size=shape)
    weights = RNG.uniform(0.5, 2.0, size=shape[0]) if weighted else None
    expected = {
        "r2_score": metrics.r2_score(truth, predicted, sample_weight=weights),
        "mean_squared_error": metrics.mean_squared_error(truth, predicted, sample_weight=weights),
        "mean_absolute_error": metrics.mean_absolute_error(truth, predicted, sample_weight=weights),
    }
    assert expected == pytest.approx(regression_metrics(truth, predicted, weights))


def test_constant_target_r2_follows_sklearn() -> None:
    truth = np.full(10, 3.0)
    assert metrics.r2_score(truth, truth) == regression_metrics(truth, truth)["r2_score"]
    off = truth + 1
    assert metrics.r2_score(truth, off) == regression_metrics(truth, off)["r2_score"]


class CountingRegression(LinearRegression):
    """A real LinearRegression that remembers how many rows each predict call got."""

    def predict(self, X: Any) -> Any:
        self.rows = [*getattr(self, "rows", []), len(X)]
        return super().predict(X)


@pytest.mark.parametrize("frame", [False, True])
def test_training_metrics_on_large_data_predict_a_sample_only(frame: bool) -> None:
    X = RNG.normal(size=(50_000, 5))
    y = X @ np.arange(1.0, 6.0) + RNG.normal(size=50_000)
    if frame:
        pandas = pytest.importorskip("pandas")
        X, y = pandas.DataFrame(X), pandas.Series(y)
    model = CountingRegression().fit(X, y)
    got = training_metrics(model, "fit", X, y, None, model)
    assert [TRAINING_METRICS_MAX_ROWS] == model.rows
    full = metrics.r2_score(y, LinearRegression.predict(model, X))
    assert full == pytest.approx(got["r2_score"], abs=0.01)


def test_training_metrics_up_to_the_limit_use_every_row() -> None:
    X = RNG.normal(size=(TRAINING_METRICS_MAX_ROWS, 3))
    y = X.sum(axis=1)
    model = CountingRegression().fit(X, y)
    training_metrics(model, "fit", X, y, None, model)
    assert [TRAINING_METRICS_MAX_ROWS] == model.rows
