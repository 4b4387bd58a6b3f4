"""Training-set metrics of a fitted scikit-learn estimator, chosen by its type.

They are part of what autologging adds to every ``fit``, so they are kept cheap: one
``predict`` on the training data, then the regression metrics in plain numpy (sklearn's
metric functions spend most of their time validating input; their values are the same),
the classification ones with one call per metric family, and the silhouette score on a
bounded sample only.
"""

from __future__ import annotations

from typing import Any

import numpy as np

#: Above this many samples the silhouette score (quadratic) is computed on a sample.
SILHOUETTE_MAX_SAMPLES = 2000


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

    if y is not None and is_regressor(estimator):
        return regression_metrics(y, estimator.predict(X), sample_weight)
    if y is not None and is_classifier(estimator):
        return classification_metrics(estimator, X, y, sample_weight)
    if is_clusterer(estimator):
        labels = result if method == "fit_predict" else getattr(estimator, "labels_", None)
        return clustering_metrics(X, labels)
    return {}


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
    """Accuracy, precision/recall/f1, log loss and ROC AUC (where there are probabilities)."""
    from sklearn.metrics import accuracy_score, precision_recall_fscore_support

    if np.ndim(y) != 1:
        return {}  # multilabel / multioutput: no single meaningful summary
    predicted = estimator.predict(X)
    classes = getattr(estimator, "classes_", None)
    binary = classes is not None and np.ndim(classes) == 1 and len(classes) == 2
    average, positive = ("binary", classes[1]) if binary else ("weighted", 1)  # type: ignore[index]
    precision, recall, f1, _ = precision_recall_fscore_support(
        y, predicted, average=average, pos_label=positive, sample_weight=sample_weight,
        zero_division=0,
    )  # fmt: skip
    metrics = {
        "accuracy_score": float(accuracy_score(y, predicted, sample_weight=sample_weight)),
        "precision_score": float(precision),
        "recall_score": float(recall),
        "f1_score": float(f1),
    }
    if classes is not None and hasattr(estimator, "predict_proba"):
        metrics.update(_probability_metrics(estimator.predict_proba(X), y, classes, sample_weight))
    return metrics


def _probability_metrics(proba: Any, y: Any, classes: Any, sample_weight: Any) -> dict[str, float]:
    from sklearn.metrics import log_loss, roc_auc_score

    metrics = {"log_loss": float(log_loss(y, proba, labels=classes, sample_weight=sample_weight))}
    try:
        if len(classes) == 2:
            auc = roc_auc_score(y == classes[1], proba[:, 1], sample_weight=sample_weight)
        else:
            auc = roc_auc_score(
                y, proba, multi_class="ovr", average="weighted", labels=classes,
                sample_weight=sample_weight,
            )  # fmt: skip
    except ValueError:  # undefined here (a class absent from y): leave it out
        return metrics
    metrics["roc_auc_score"] = float(auc)
    return metrics


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
