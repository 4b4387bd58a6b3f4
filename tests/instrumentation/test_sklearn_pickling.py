"""Wrapped scikit-learn callables pickle, copy and compare as the originals (issue 10).

Before: ``pickle.dumps(accuracy_score)`` raised "object proxy must define __reduce__()",
``joblib.dump`` of a fitted ``GridSearchCV(scoring="precision")`` raised "not the same
object as sklearn.metrics._classification.precision_score", and ``cross_val_score(...,
scoring="f1", n_jobs=2)`` could not send its task to the loky workers.
"""

from __future__ import annotations

import copy
import io
import multiprocessing
import pickle
import subprocess
import sys

import joblib
import numpy as np
import pytest

pytest.importorskip("sklearn")

import sklearn.metrics
from sklearn.datasets import make_classification
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV, cross_val_score

import runlog
from runlog.instrumentation._base import PicklableWrapper
from runlog.instrumentation.sklearn import SklearnInstrumentor

pytestmark = [
    pytest.mark.usefixtures("client_env"),
    pytest.mark.instrumentor(cls=SklearnInstrumentor, options={"log_models": False}, flush=True),
]


def data() -> tuple[np.ndarray, np.ndarray]:
    X, y = make_classification(n_samples=120, n_features=5, random_state=0)
    return X, y


def test_metric_functions_are_wrapped_in_the_public_namespace_only(
    instrumented: SklearnInstrumentor,
) -> None:
    from sklearn.metrics import _classification

    assert isinstance(sklearn.metrics.accuracy_score, PicklableWrapper)
    assert not isinstance(_classification.accuracy_score, PicklableWrapper)


def test_metric_function_pickles_by_reference(instrumented: SklearnInstrumentor) -> None:
    from sklearn.metrics import accuracy_score

    dumped = pickle.dumps(accuracy_score)
    assert b"sklearn.metrics" in dumped and b"accuracy_score" in dumped
    assert len(dumped) < 100  # a reference, not the function's code
    assert pickle.loads(dumped) is sklearn.metrics.accuracy_score


def test_pickled_metric_loads_as_the_original_without_runlog(
    instrumented: SklearnInstrumentor,
) -> None:
    from sklearn.metrics import f1_score, make_scorer

    dumped = pickle.dumps(make_scorer(f1_score))
    code = (
        "import pickle, sys, sklearn.metrics._classification as c\n"
        "scorer = pickle.load(sys.stdin.buffer)\n"
        "print(scorer._score_func is c.f1_score)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], input=dumped, capture_output=True, timeout=60
    )
    assert (0, b"True") == (done.returncode, done.stdout.strip()), done.stderr


def test_scorer_of_a_wrapped_metric_pickles_and_scores_the_same(
    instrumented: SklearnInstrumentor,
) -> None:
    from sklearn.metrics import f1_score, make_scorer

    X, y = data()
    model = LogisticRegression().fit(X, y)
    scorer = make_scorer(f1_score)
    assert scorer(model, X, y) == pickle.loads(pickle.dumps(scorer))(model, X, y)


def test_fitted_grid_search_with_string_scoring_survives_joblib_dump(
    instrumented: SklearnInstrumentor,
) -> None:
    X, y = data()
    search = GridSearchCV(LogisticRegression(), {"C": [0.1, 1.0]}, scoring="precision", cv=3)
    search.fit(X, y)
    buffer = io.BytesIO()
    joblib.dump(search, buffer)
    buffer.seek(0)
    loaded = joblib.load(buffer)
    np.testing.assert_array_equal(search.predict(X), loaded.predict(X))
    assert search.score(X, y) == loaded.score(X, y)


def test_cross_val_score_in_loky_workers_equals_in_process(
    instrumented: SklearnInstrumentor,
) -> None:
    X, y = data()
    in_process = cross_val_score(LogisticRegression(), X, y, scoring="f1", cv=3, n_jobs=1)
    in_workers = cross_val_score(LogisticRegression(), X, y, scoring="f1", cv=3, n_jobs=2)
    np.testing.assert_array_equal(in_process, in_workers)


def test_wrapped_metric_runs_in_a_spawned_multiprocessing_worker(
    instrumented: SklearnInstrumentor,
) -> None:
    from sklearn.metrics import accuracy_score

    with multiprocessing.get_context("spawn").Pool(1) as pool:
        assert 0.5 == pool.apply(accuracy_score, ([0, 1], [0, 0]))


def test_deep_copies_of_scorers_and_estimators_work(instrumented: SklearnInstrumentor) -> None:
    from sklearn.metrics import f1_score, make_scorer

    X, y = data()
    scorer = make_scorer(f1_score)
    model = LogisticRegression().fit(X, y)
    assert scorer(model, X, y) == copy.deepcopy(scorer)(model, X, y)
    copied = copy.deepcopy(model)
    np.testing.assert_array_equal(model.predict(X), copied.predict(X))
    assert copy.copy(f1_score) is f1_score
    assert copy.deepcopy(model.fit).__self__ is not model


def test_wrapped_methods_pickle_as_attribute_access(instrumented: SklearnInstrumentor) -> None:
    X, y = data()
    model = LogisticRegression()
    fit = pickle.loads(pickle.dumps(model.fit))
    fitted = fit(X, y)
    assert isinstance(fitted, LogisticRegression)
    assert pickle.loads(pickle.dumps(LogisticRegression.fit)) == LogisticRegression.fit


def test_wrapped_metric_compares_and_hashes_as_the_original(
    instrumented: SklearnInstrumentor,
) -> None:
    from sklearn.metrics import _classification, accuracy_score

    assert accuracy_score == _classification.accuracy_score
    assert hash(_classification.accuracy_score) == hash(accuracy_score)
    assert "accuracy_score" == accuracy_score.__name__


def test_a_wrapper_kept_after_uninstrument_pickles_as_the_original(
    experiment: runlog.Experiment,
) -> None:
    instrumentor = SklearnInstrumentor()
    instrumentor.instrument(log_models=False)
    kept = sklearn.metrics.accuracy_score
    instrumentor.uninstrument()
    assert isinstance(kept, PicklableWrapper)
    assert pickle.loads(pickle.dumps(kept)) is sklearn.metrics.accuracy_score
