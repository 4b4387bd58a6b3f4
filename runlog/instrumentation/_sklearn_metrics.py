"""Training-set metrics of a fitted scikit-learn estimator, chosen by its type.

They are part of what autologging adds to every ``fit``, so they are kept cheap: one
``predict`` on the training data, then the regression metrics in plain numpy (sklearn's
metric functions spend most of their time validating input; their values are the same),
the classification ones with one call per metric family, and the silhouette score on a
bounded sample only. Above `TRAINING_METRICS_MAX_ROWS` training rows, the regression and
classification metrics are computed on a fixed random sample of that many rows, so that a
fit on a large data set never pays a second full ``predict`` of it in the foreground.
"""

from __future__ import annotations

from typing import Any

import numpy as np

#: Above this many samples the silhouette score (quadratic) is computed on a sample.
SILHOUETTE_MAX_SAMPLES = 2000
#: Above this many training rows, training metrics are computed on a sample of this many.
TRAINING_METRICS_MAX_ROWS = 10_000


def training_metrics(
    estimator: Any, method: str, X: Any, y: Any, sample_weight: Any, result: Any
) -> dict[str, float]:
    """The training-set metrics of *estimator* just fitted by *method* on ``X, y``.

    Regressors: r2, mse, mae. Classifiers: accuracy, precision/recall/f1 (binary for two
    classes, else weighted), log loss and ROC AUC where ``predict_proba`` exists.
    Clusterers: silhouette. Transformers and anything else: none.
    """
    import sklearn

    if method == "fit_transform" or X is None:
        return {}
    # The fit just validated X: do not pay for sklearn's finiteness checks a second time.
    with sklearn.config_context(assume_finite=True):
        return _by_type(estimator, method, X, y, sample_weight, result)


def _by_type(
    estimator: Any, method: str, X: Any, y: Any, sample_weight: Any, result: Any
) -> dict[str, float]:
    from sklearn.base import is_classifier, is_clusterer, is_regressor

    if y is not None and (is_regressor(estimator) or is_classifier(estimator)):
        X, y, sample_weight = sample_rows(TRAINING_METRICS_MAX_ROWS, X, y, sample_weight)
    if y is not None and is_regressor(estimator):
        return regression_metrics(y, estimator.predict(X), sample_weight)
    if y is not None and is_classifier(estimator):
        return classification_metrics(estimator, X, y, sample_weight)
    if is_clusterer(estimator):
        labels = result if method == "fit_predict" else getattr(estimator, "labels_", None)
        return clustering_metrics(X, labels)
    return {}


def sample_rows(limit: int, *arrays: Any) -> tuple[Any, ...]:
    """*arrays* (rows first; None passes) as they are up to *limit* rows, else the same
    fixed random sample of *limit* rows of each (in their order)."""
    rows = _row_count(arrays[0])
    if rows is None or rows <= limit:
        return arrays
    chosen = np.sort(np.random.default_rng(0).choice(rows, size=limit, replace=False))
    return tuple(_take(array, chosen) for array in arrays)


def _row_count(array: Any) -> int | None:
    shape = getattr(array, "shape", None)
    if shape is not None and len(shape) > 0:
        return int(shape[0])
    try:
        return len(array)
    except TypeError:
        return None


def _take(array: Any, rows: Any) -> Any:
    if array is None:
        return None
    if hasattr(array, "iloc"):  # pandas
        return array.iloc[rows]
    if hasattr(array, "shape"):  # numpy, scipy.sparse
        return array[rows]
    return [array[i] for i in rows]


def regression_metrics(y_true: Any, y_pred: Any, sample_weight: Any = None) -> dict[str, float]:
    """r2, mean squared and mean absolute error (sklearn's definitions, uniform average)."""
    truth = np.asarray(y_true, dtype=float)
    predicted = np.asarray(y_pred, dtype=float).reshape(truth.shape)
    weights = None if sample_weight is None else np.asarray(sample_weight, dtype=float)
    errors = truth - predicted
    if weights is None:  # np.average is ~3x slower than these on small arrays
        mse, mae = np.mean(errors * errors, axis=0), np.mean(np.abs(errors), axis=0)
        variance = np.var(truth, axis=0)
    else:
        mse = np.average(errors**2, axis=0, weights=weights)
        mae = np.average(np.abs(errors), axis=0, weights=weights)
        mean = np.average(truth, axis=0, weights=weights)
        variance = np.average((truth - mean) ** 2, axis=0, weights=weights)
    # sklearn's force_finite: a constant target scores 1 when predicted exactly, else 0.
    ratio = np.divide(mse, variance, out=np.where(mse == 0, 0.0, 1.0), where=variance > 0)
    return {
        "r2_score": float(np.mean(1.0 - ratio)),
        "mean_squared_error": float(np.mean(mse)),
        "mean_absolute_error": float(np.mean(mae)),
    }


def classification_metrics(
    estimator: Any, X: Any, y: Any, sample_weight: Any = None
) -> dict[str, float]:
    """Accuracy, precision/recall/f1, log loss and ROC AUC (where there are probabilities).

    Computed from one confusion matrix in numpy, with sklearn's definitions (``binary``
    average on ``classes_[1]`` for two classes, ``weighted`` otherwise; ``zero_division=0``;
    one-vs-rest weighted ROC AUC): sklearn's own functions validate their input each time
    and together cost ~5 ms on iris, half of a LogisticRegression fit there.
    """
    classes = getattr(estimator, "classes_", None)
    if np.ndim(y) != 1 or classes is None or np.ndim(classes) != 1 or len(classes) < 2:
        return {}  # multilabel / multioutput: no single meaningful summary
    truth = _class_indexes(classes, y)
    predicted = _class_indexes(classes, estimator.predict(X))
    if truth is None or predicted is None:
        return {}
    weights = np.ones(len(truth)) if sample_weight is None else np.asarray(sample_weight, float)
    metrics = label_metrics(truth, predicted, weights, len(classes))
    if hasattr(estimator, "predict_proba"):
        proba = np.asarray(estimator.predict_proba(X), dtype=float)
        metrics.update(probability_metrics(proba, truth, weights))
    return metrics


def _class_indexes(classes: Any, labels: Any) -> Any:
    """Each label's index in the sorted *classes*, or None if some label is not there."""
    labels = np.asarray(labels)
    index = np.clip(np.searchsorted(classes, labels), 0, len(classes) - 1)
    return index if np.array_equal(np.asarray(classes)[index], labels) else None


def label_metrics(truth: Any, predicted: Any, weights: Any, count: int) -> dict[str, float]:
    """Accuracy and precision/recall/f1 from class indexes."""
    matrix = np.bincount(truth * count + predicted, weights=weights, minlength=count * count)
    matrix = matrix.reshape(count, count)
    hits, predicted_sum, true_sum = np.diag(matrix), matrix.sum(axis=0), matrix.sum(axis=1)
    scores = {
        "precision_score": _ratio(hits, predicted_sum),
        "recall_score": _ratio(hits, true_sum),
        "f1_score": _ratio(2 * hits, predicted_sum + true_sum),
    }
    if count == 2:
        summary = {name: float(values[1]) for name, values in scores.items()}
    else:
        support = true_sum.sum()
        summary = {name: float(values @ true_sum / support) for name, values in scores.items()}
    return {"accuracy_score": float(hits.sum() / matrix.sum()), **summary}


def probability_metrics(proba: Any, truth: Any, weights: Any) -> dict[str, float]:
    """Log loss, and ROC AUC (one-vs-rest, weighted by support, for several classes)."""
    eps = np.finfo(proba.dtype).eps
    chosen = np.clip(proba[np.arange(len(truth)), truth], eps, 1 - eps)
    metrics = {"log_loss": float(-np.average(np.log(chosen), weights=weights))}
    count = proba.shape[1]
    columns = [1] if count == 2 else range(count)
    aucs = [_auc(proba[:, c], truth == c, weights) for c in columns]
    if all(auc is not None for auc in aucs):  # else undefined (a class absent from y)
        support = [weights[truth == c].sum() for c in columns]
        metrics["roc_auc_score"] = float(np.average(np.asarray(aucs, float), weights=support))
    return metrics


def _auc(scores: Any, positive: Any, weights: Any) -> float | None:
    """Weighted ROC AUC: the chance a positive outscores a negative, ties counting half."""
    order = np.argsort(scores, kind="stable")
    ordered = scores[order]
    starts = np.r_[0, np.flatnonzero(np.diff(ordered)) + 1]  # groups of tied scores
    positives = np.add.reduceat(np.where(positive[order], weights[order], 0.0), starts)
    negatives = np.add.reduceat(np.where(positive[order], 0.0, weights[order]), starts)
    total = positives.sum() * negatives.sum()
    if total == 0:
        return None
    below = np.cumsum(negatives) - negatives
    return float((positives * (below + 0.5 * negatives)).sum() / total)


def _ratio(numerator: Any, denominator: Any) -> Any:
    """numerator / denominator, 0 where the denominator is 0 (sklearn's zero_division=0)."""
    return np.divide(numerator, denominator, out=np.zeros(len(numerator)), where=denominator > 0)


def clustering_metrics(X: Any, labels: Any) -> dict[str, float]:
    """The silhouette score of *labels*, on at most `SILHOUETTE_MAX_SAMPLES` samples."""
    from sklearn.metrics import silhouette_score

    if labels is None or np.ndim(labels) != 1:
        return {}
    count = len(labels)
    if not 2 <= len(np.unique(labels)) <= count - 1:
        return {}  # silhouette is undefined for one cluster or one sample per cluster
    sample = SILHOUETTE_MAX_SAMPLES if count > SILHOUETTE_MAX_SAMPLES else None
    return {
        "silhouette_score": float(silhouette_score(X, labels, sample_size=sample, random_state=0))
    }
