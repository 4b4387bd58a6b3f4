"""SklearnInstrumentor end to end: real scikit-learn fits, what the real collector stored."""

from __future__ import annotations

import logging
from typing import Any

import joblib
import numpy as np
import pytest

pytest.importorskip("sklearn")

from sklearn import metrics, model_selection  # by module: the names wrapped later
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.cluster import KMeans
from sklearn.datasets import load_diabetes, load_iris, make_blobs, make_regression
from sklearn.linear_model import LogisticRegression, Ridge, SGDRegressor
from sklearn.model_selection import GridSearchCV, RandomizedSearchCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

import runlog
from runlog.instrumentation import _sklearn_metrics, _sklearn_record
from runlog.instrumentation.sklearn import SklearnInstrumentor

pytestmark = [
    pytest.mark.usefixtures("client_env"),
    pytest.mark.instrumentor(cls=SklearnInstrumentor),
]


def runs_of(experiment: runlog.Experiment, instrumentor: SklearnInstrumentor) -> list[runlog.Run]:
    """The experiment's top-level runs, oldest first, once background work is done."""
    assert instrumentor.flush(30)
    return list(experiment.get_runs())[::-1]


def only_run(experiment: runlog.Experiment, instrumentor: SklearnInstrumentor) -> runlog.Run:
    runs = runs_of(experiment, instrumentor)
    assert 1 == len(runs)
    return runs[0]


def diabetes() -> tuple[np.ndarray, np.ndarray]:
    X, y = load_diabetes(return_X_y=True)
    return X, y


def test_ridge_fit_records_params_metrics_tags_and_model(
    instrumented: SklearnInstrumentor, experiment: runlog.Experiment, tmp_path: Any
) -> None:
    X, y = diabetes()
    model = Ridge(alpha=0.5).fit(X, y)
    run = only_run(experiment, instrumented)
    expected_params = {
        "alpha": "0.5", "copy_X": "True", "fit_intercept": "True", "max_iter": "None",
        "positive": "False", "random_state": "None", "solver": "auto", "tol": "0.0001",
    }  # fmt: skip
    assert expected_params == run.get_params()
    assert "Completed" == run.get_status()
    assert "Ridge" == run.get_details()["displayName"]
    got = run.get_metrics()
    predicted = model.predict(X)
    assert metrics.r2_score(y, predicted) == pytest.approx(got["training_r2_score"])
    assert metrics.mean_squared_error(y, predicted) == pytest.approx(
        got["training_mean_squared_error"]
    )
    assert metrics.mean_absolute_error(y, predicted) == pytest.approx(
        got["training_mean_absolute_error"]
    )
    assert 0 < got["training_duration_s"] < 10
    tags = run.get_tags()
    assert "Ridge" == tags["estimator_name"]
    assert "sklearn.linear_model._ridge.Ridge" == tags["estimator_class"]
    import sklearn

    assert sklearn.__version__ == run.get_properties()["sklearn_version"]
    assert ["model/model.joblib"] == run.get_file_names()
    loaded = joblib.load(run.download_file("model/model.joblib", tmp_path / "m.joblib"))
    np.testing.assert_array_equal(predicted, loaded.predict(X))


def test_log_models_false_uploads_no_model(experiment: runlog.Experiment) -> None:
    instrumentor = SklearnInstrumentor()
    instrumentor.instrument(log_models=False)
    try:
        Ridge().fit(*diabetes())
        assert [] == only_run(experiment, instrumentor).get_file_names()
    finally:
        instrumentor.uninstrument()


def test_alpha_sweep_makes_one_run_per_fit(
    instrumented: SklearnInstrumentor, experiment: runlog.Experiment
) -> None:
    X, y = make_regression(n_samples=60, n_features=4, random_state=0)
    alphas = [0.1, 1.0, 10.0]
    for alpha in alphas:
        Ridge(alpha=alpha).fit(X, y)
    runs = runs_of(experiment, instrumented)
    assert sorted(str(a) for a in alphas) == sorted(r.get_params()["alpha"] for r in runs)
    assert ["Completed"] * 3 == [r.get_status() for r in runs]


def test_pipeline_makes_one_run_not_three(
    instrumented: SklearnInstrumentor, experiment: runlog.Experiment
) -> None:
    X, y = diabetes()
    make_pipeline(StandardScaler(), Ridge()).fit(X, y)
    run = only_run(experiment, instrumented)
    assert "Pipeline" == run.get_tags()["estimator_name"]
    assert set(make_pipeline(Ridge()).get_params(deep=False)) == set(run.get_params())
    assert "StandardScaler" in run.get_params()["steps"]
    assert "training_r2_score" in run.get_metrics()


def test_pipeline_predictions_give_post_training_metrics(
    instrumented: SklearnInstrumentor, experiment: runlog.Experiment
) -> None:
    X, y = diabetes()
    X_holdout, y_holdout = X[400:], y[400:]
    pipeline = make_pipeline(StandardScaler(), Ridge()).fit(X[:400], y[:400])
    mae = metrics.mean_absolute_error(y_holdout, pipeline.predict(X_holdout))
    got = only_run(experiment, instrumented).get_metrics()
    assert mae == pytest.approx(got["mean_absolute_error_X_holdout"])


def test_metrics_on_other_arrays_are_not_logged(
    instrumented: SklearnInstrumentor, experiment: runlog.Experiment
) -> None:
    X, y = diabetes()
    model = Ridge().fit(X, y)
    model.predict(X)
    metrics.mean_squared_error(y, y * 0.9)  # not a prediction of a tracked model
    names = set(only_run(experiment, instrumented).get_metrics())
    assert not any(name.startswith("mean_squared_error") for name in names)


def test_one_fit_in_an_active_run_keeps_its_params_on_the_run(
    instrumented: SklearnInstrumentor, experiment: runlog.Experiment
) -> None:
    X, y = diabetes()
    with runlog.start_run(name="train.py") as run:
        Ridge(alpha=1.0).fit(X, y)
    assert run.id == only_run(experiment, instrumented).id
    assert "1.0" == run.get_params()["alpha"]
    assert "training_r2_score" in run.get_metrics()
    assert ["model/model.joblib"] == run.get_file_names()
    assert [] == list(run.get_children())


def test_sweep_in_an_active_run_makes_a_child_run_per_fit(
    instrumented: SklearnInstrumentor,
    experiment: runlog.Experiment,
    internal_log: pytest.LogCaptureFixture,
) -> None:
    """Named after the estimator and what varies; no "params cannot change" warning."""
    X, y = diabetes()
    with runlog.start_run(name="sweep") as run:
        Ridge(alpha=1.0).fit(X, y)
        Ridge(alpha=2.0).fit(X, y)
        StandardScaler().fit(X)
    assert run.id == only_run(experiment, instrumented).id
    children = {child.get_details()["displayName"]: child for child in run.get_children()}
    assert {"Ridge alpha=1.0", "Ridge alpha=2.0", "StandardScaler"} == set(children)
    for name, alpha in (("Ridge alpha=1.0", "1.0"), ("Ridge alpha=2.0", "2.0")):
        child = children[name]
        assert alpha == child.get_params()["alpha"]
        assert "Ridge" == child.get_tags()["estimator_name"]
        assert "training_r2_score" in child.get_metrics()
        assert "Completed" == child.get_status()
    assert "True" == children["StandardScaler"].get_params()["with_mean"]
    for name in children:  # the first fit's model too, saved again in its child
        assert ["model/model.joblib"] == children[name].get_file_names()
    assert "1.0" == run.get_params()["alpha"]  # the first fit, as if there were one model
    assert [] == [r.getMessage() for r in internal_log.records if "change" in r.getMessage()]


def test_partial_fit_calls_in_an_active_run_make_series(
    instrumented: SklearnInstrumentor, experiment: runlog.Experiment
) -> None:
    X, y = make_regression(n_samples=60, n_features=4, random_state=0)
    model = SGDRegressor(random_state=0)
    with runlog.start_run(name="stream") as run:
        for batch in range(3):
            model.partial_fit(X[batch * 20 : batch * 20 + 20], y[batch * 20 : batch * 20 + 20])
    assert instrumented.flush(30)
    got = run.get_metrics()
    assert 3 == len(got["training_r2_score"])
    assert [] == list(run.get_children())


def test_randomized_search_in_an_active_run_has_candidate_children(
    instrumented: SklearnInstrumentor, experiment: runlog.Experiment
) -> None:
    X, y = make_regression(n_samples=60, n_features=4, random_state=0)
    search = RandomizedSearchCV(
        Ridge(), {"alpha": [0.01, 0.1, 1.0, 10.0]}, n_iter=3, cv=2, random_state=0
    )
    with runlog.start_run(name="tuning") as run:
        search.fit(X, y)
    assert instrumented.flush(30)
    assert str(search.best_params_["alpha"]) == run.get_params()["best_alpha"]
    children = sorted(child.get_details()["displayName"] for child in run.get_children())
    best = np.argsort(search.cv_results_["rank_test_score"], kind="stable")[:3]
    assert sorted(f"candidate_{i}" for i in best) == children


def classification() -> tuple[np.ndarray, np.ndarray]:
    X, y = load_iris(return_X_y=True)
    return X, (y == 1).astype(int)


def test_cross_val_score_is_one_record_with_fold_scores(
    instrumented: SklearnInstrumentor, experiment: runlog.Experiment
) -> None:
    """Its folds' fits are scikit-learn's own: no run, no params, no model of their own."""
    X, y = classification()
    with runlog.start_run(name="cv") as run:
        scores = model_selection.cross_val_score(
            LogisticRegression(C=0.5), X, y, scoring="f1", cv=4
        )
    assert run.id == only_run(experiment, instrumented).id
    got = run.get_metrics()
    assert scores.tolist() == pytest.approx(got["cv_f1"])
    assert scores.mean() == pytest.approx(got["cv_f1_mean"])
    assert scores.std() == pytest.approx(got["cv_f1_std"])
    assert "0.5" == run.get_params()["C"]
    assert [] == list(run.get_children())
    assert [] == run.get_file_names()


def test_cross_val_score_sweep_makes_child_runs_with_fold_scores(
    instrumented: SklearnInstrumentor, experiment: runlog.Experiment
) -> None:
    X, y = classification()
    scores = {}
    with runlog.start_run(name="cv sweep") as run:
        for C in (0.1, 1.0):
            scores[C] = model_selection.cross_val_score(LogisticRegression(C=C), X, y, cv=3)
    assert run.id == only_run(experiment, instrumented).id
    children = {child.get_details()["displayName"]: child for child in run.get_children()}
    assert {"LogisticRegression C=0.1", "LogisticRegression C=1.0"} == set(children)
    for C, expected in scores.items():
        got = children[f"LogisticRegression C={C}"].get_metrics()
        assert expected.tolist() == pytest.approx(got["cv_score"])
        assert expected.mean() == pytest.approx(got["cv_score_mean"])


def test_cross_val_score_without_a_run_gets_one_run(
    instrumented: SklearnInstrumentor, experiment: runlog.Experiment
) -> None:
    X, y = classification()
    scores = model_selection.cross_val_score(LogisticRegression(), X, y, cv=3)
    run = only_run(experiment, instrumented)
    assert "LogisticRegression" == run.get_details()["displayName"]
    assert scores.tolist() == pytest.approx(run.get_metrics()["cv_score"])
    assert "Completed" == run.get_status()


def test_cross_validate_and_cross_val_predict(
    instrumented: SklearnInstrumentor, experiment: runlog.Experiment
) -> None:
    X, y = classification()
    with runlog.start_run(name="cv") as run:
        found = model_selection.cross_validate(
            Ridge(), X, y, scoring=["r2", "neg_mean_squared_error"], cv=3
        )
    with runlog.start_run(name="predict") as predicted_run:
        predicted = model_selection.cross_val_predict(LogisticRegression(), X, y, cv=3)
        accuracy = metrics.accuracy_score(y, predicted)
    assert instrumented.flush(30)
    got = run.get_metrics()
    assert found["test_r2"].tolist() == pytest.approx(got["cv_r2"])
    assert found["test_neg_mean_squared_error"].mean() == pytest.approx(
        got["cv_neg_mean_squared_error_mean"]
    )
    assert accuracy == pytest.approx(predicted_run.get_metrics()["accuracy_score_X"])
    assert 2 == len(runs_of(experiment, instrumented))


def test_fits_inside_metric_functions_are_not_recorded(
    instrumented: SklearnInstrumentor, experiment: runlog.Experiment
) -> None:
    """log_loss fits a LabelBinarizer, classification_report a LabelEncoder: no runs."""
    X, y = load_iris(return_X_y=True)
    labels = np.array(["setosa", "versicolor", "virginica"])[y]
    model = LogisticRegression(max_iter=300).fit(X, labels)
    metrics.log_loss(labels, model.predict_proba(X))
    metrics.classification_report(labels, model.predict(X))
    assert ["LogisticRegression"] == [
        r.get_details()["displayName"] for r in runs_of(experiment, instrumented)
    ]


def test_grid_search_parent_children_top_k_and_table(experiment: runlog.Experiment) -> None:
    instrumentor = SklearnInstrumentor()
    instrumentor.instrument(max_tuning_runs=2)
    try:
        X, y = make_regression(n_samples=60, n_features=4, noise=5.0, random_state=0)
        search = GridSearchCV(Ridge(), {"alpha": [0.01, 1.0, 100.0, 1000.0]}, cv=3).fit(X, y)
        parent = only_run(experiment, instrumentor)
    finally:
        instrumentor.uninstrument()
    params = parent.get_params()
    assert str(search.best_params_["alpha"]) == params["best_alpha"]
    assert "Ridge" == params["estimator"]
    got = parent.get_metrics()
    assert search.best_score_ == pytest.approx(got["best_score"])
    table = got["cv_results"]
    assert list(search.cv_results_["mean_test_score"]) == pytest.approx(table["mean_test_score"])
    assert [str(a) for a in search.cv_results_["param_alpha"]] == [
        str(a) for a in table["param_alpha"]
    ]
    children = list(parent.get_children())
    ranks = search.cv_results_["rank_test_score"]
    best_two = sorted(
        str(a) for a, r in zip(search.cv_results_["param_alpha"], ranks, strict=True) if r <= 2
    )
    assert best_two == sorted(child.get_params()["alpha"] for child in children)
    for child in children:
        child_metrics = child.get_metrics()
        assert child_metrics["rank_test_score"] in (1, 2)
        assert "Completed" == child.get_status()
    assert ["model/model.joblib"] == parent.get_file_names()


def test_grid_search_all_candidates_with_none(experiment: runlog.Experiment) -> None:
    instrumentor = SklearnInstrumentor()
    instrumentor.instrument(max_tuning_runs=None, log_models=False)
    try:
        X, y = make_regression(n_samples=60, n_features=4, random_state=0)
        GridSearchCV(
            Ridge(), {"alpha": [0.1, 1.0, 10.0], "fit_intercept": [True, False]}, cv=2
        ).fit(X, y)
        parent = only_run(experiment, instrumentor)
    finally:
        instrumentor.uninstrument()
    assert 6 == len(list(parent.get_children()))


def test_post_training_metric_named_after_the_data_set(
    instrumented: SklearnInstrumentor, experiment: runlog.Experiment
) -> None:
    X, y = diabetes()
    X_train, X_test, y_train, y_test = X[:300], X[300:], y[:300], y[300:]
    model = Ridge().fit(X_train, y_train)
    predictions = model.predict(X_test)
    mse = metrics.mean_squared_error(y_test, predictions)
    from sklearn.metrics import r2_score  # bound after instrumentation: the wrapped one

    r2 = r2_score(y_test, predictions)
    got = only_run(experiment, instrumented).get_metrics()
    assert mse == pytest.approx(got["mean_squared_error_X_test"])
    assert r2 == pytest.approx(got["r2_score_X_test"])


def test_classifier_training_metrics(
    instrumented: SklearnInstrumentor, experiment: runlog.Experiment
) -> None:
    X, y = load_iris(return_X_y=True)
    model = LogisticRegression(max_iter=500).fit(X, y)
    got = only_run(experiment, instrumented).get_metrics()
    predicted, proba = model.predict(X), model.predict_proba(X)
    expected = {
        "training_accuracy_score": metrics.accuracy_score(y, predicted),
        "training_precision_score": metrics.precision_score(y, predicted, average="weighted"),
        "training_recall_score": metrics.recall_score(y, predicted, average="weighted"),
        "training_f1_score": metrics.f1_score(y, predicted, average="weighted"),
        "training_log_loss": metrics.log_loss(y, proba),
        "training_roc_auc_score": metrics.roc_auc_score(
            y, proba, multi_class="ovr", average="weighted"
        ),
    }
    assert expected == pytest.approx({name: got[name] for name in expected})


def test_clusterer_silhouette(
    instrumented: SklearnInstrumentor, experiment: runlog.Experiment
) -> None:
    X, _ = make_blobs(n_samples=60, centers=3, random_state=0)
    model = KMeans(n_clusters=3, n_init=2, random_state=0).fit(X)
    got = only_run(experiment, instrumented).get_metrics()
    assert metrics.silhouette_score(X, model.labels_) == pytest.approx(
        got["training_silhouette_score"]
    )


# --- the standard instrumentor tests ---------------------------------------------------------
def test_uninstrumented_records_nothing(experiment: runlog.Experiment) -> None:
    instrumentor = SklearnInstrumentor()
    instrumentor.instrument()
    instrumentor.uninstrument()
    Ridge().fit(*diabetes())
    assert instrumentor.flush(30)
    assert [] == list(experiment.get_runs())
    assert "function" == type(Ridge.__dict__["fit"]).__name__  # the wrapt proxy is gone


def test_double_instrument_warns(
    instrumented: SklearnInstrumentor, caplog: pytest.LogCaptureFixture
) -> None:
    logger = logging.getLogger("runlog.internal")
    logger.addHandler(caplog.handler)
    try:
        instrumented.instrument()
    finally:
        logger.removeHandler(caplog.handler)
    assert ["runlog: sklearn is already instrumented"] == [r.getMessage() for r in caplog.records]


def test_bad_options_are_refused() -> None:
    with pytest.raises(runlog.ConfigError, match="max_tuning_runs"):
        SklearnInstrumentor().instrument(max_tuning_runs=-1)
    with pytest.raises(runlog.ConfigError, match="unknown"):
        SklearnInstrumentor().instrument(log_model=True)
    assert not SklearnInstrumentor().is_instrumented


def test_opentelemetry_instrument_keywords_are_accepted() -> None:
    """``opentelemetry-instrument`` passes these to every instrumentor."""
    instrumentor = SklearnInstrumentor()
    instrumentor.instrument(skip_dep_check=True, tracer_provider=None, max_tuning_runs=1)
    try:
        assert {"max_tuning_runs": 1} == instrumentor.options
    finally:
        instrumentor.uninstrument()


def test_user_exception_propagates_and_run_fails(
    instrumented: SklearnInstrumentor, experiment: runlog.Experiment
) -> None:
    X, y = diabetes()
    X_bad = X.copy()
    X_bad[0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN") as raised:
        Ridge().fit(X_bad, y)
    assert raised.traceback[-1].frame.f_globals["__name__"].startswith("sklearn.")
    run = only_run(experiment, instrumented)
    assert "Failed" == run.get_status()
    assert "ValueError" in run.get_details()["error"]


def test_internal_error_does_not_break_fit(
    instrumented: SklearnInstrumentor,
    experiment: runlog.Experiment,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("RUNLOG_INSTRUMENTATION_STRICT", "0")

    def broken(*args: Any, **kwargs: Any) -> dict[str, float]:
        raise RuntimeError("injected runlog bug")

    monkeypatch.setattr(_sklearn_metrics, "regression_metrics", broken)
    X, y = diabetes()
    model = Ridge().fit(X, y)
    assert (10,) == model.coef_.shape
    assert ["Ridge"] == [r.get_details()["displayName"] for r in runs_of(experiment, instrumented)]


def test_internal_error_at_fit_start_leaves_no_open_run(
    instrumented: SklearnInstrumentor,
    experiment: runlog.Experiment,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The own run is ended at once: an open one would swallow every later fit."""
    monkeypatch.setenv("RUNLOG_INSTRUMENTATION_STRICT", "0")
    with monkeypatch.context() as patch:
        patch.setattr(_sklearn_record, "estimator_tags", _raise_injected)
        Ridge(alpha=1.0).fit(*diabetes())
    Ridge(alpha=2.0).fit(*diabetes())
    first, second = runs_of(experiment, instrumented)
    assert ("Failed", "Completed") == (first.get_status(), second.get_status())
    assert {"alpha": "2.0"}.items() <= second.get_params().items()


def _raise_injected(*args: Any, **kwargs: Any) -> Any:
    raise RuntimeError("injected runlog bug")


class Interrupted(TransformerMixin, BaseEstimator):
    """A user's transformer whose fit is interrupted (Ctrl-C)."""

    def fit(self, X: Any, y: Any = None) -> Interrupted:
        raise KeyboardInterrupt

    def transform(self, X: Any) -> Any:
        return X


def test_interrupted_fit_cancels_its_run(
    instrumented: SklearnInstrumentor, experiment: runlog.Experiment
) -> None:
    with pytest.raises(KeyboardInterrupt):
        Interrupted().fit_transform(diabetes()[0])
    assert "Canceled" == only_run(experiment, instrumented).get_status()


class Doubler(TransformerMixin, BaseEstimator):
    """A user's transformer: inherits the wrapped TransformerMixin.fit_transform."""

    def __init__(self) -> None:
        self.calls: list[int] = []

    def fit(self, X: Any, y: Any = None) -> Doubler:
        self.calls.append(len(X))
        return self

    def transform(self, X: Any) -> Any:
        return np.asarray(X) * 2


def test_original_called_exactly_once(
    instrumented: SklearnInstrumentor, experiment: runlog.Experiment
) -> None:
    """TransformerMixin.fit_transform is wrapped; the user's fit under it runs once."""
    X, _ = diabetes()
    doubler = Doubler()
    np.testing.assert_array_equal(X * 2, doubler.fit_transform(X))
    assert [len(X)] == doubler.calls
    assert ["Doubler"] == [
        r.get_details()["displayName"] for r in runs_of(experiment, instrumented)
    ]


def test_model_saved_as_fitted_not_as_refitted_later(
    instrumented: SklearnInstrumentor, experiment: runlog.Experiment, tmp_path: Any
) -> None:
    X, y = diabetes()
    model = Ridge(alpha=1.0).fit(X, y)
    first = model.predict(X)
    model.set_params(alpha=100.0).fit(X, y)
    by_alpha = {r.get_params()["alpha"]: r for r in runs_of(experiment, instrumented)}
    path = by_alpha["1.0"].download_file("model/model.joblib", tmp_path / "first.joblib")
    np.testing.assert_array_equal(first, joblib.load(path).predict(X))


def test_own_trouble_is_one_line_on_stderr_never_a_traceback(
    instrumented: SklearnInstrumentor,
    internal_log: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
    capfd: pytest.CaptureFixture[str],
) -> None:
    from runlog.instrumentation import _base

    monkeypatch.setenv("RUNLOG_INSTRUMENTATION_STRICT", "0")
    monkeypatch.setattr(_base, "_reported", set())
    monkeypatch.setattr(_sklearn_record, "training_metrics", _raise_injected)
    X, y = diabetes()
    for _ in range(2):
        Ridge().fit(X, y)
    assert instrumented.flush(30)
    err = capfd.readouterr().err
    assert "Traceback" not in err
    warnings = [r for r in internal_log.records if r.levelno >= logging.WARNING]
    assert ["runlog instrumentation: sklearn: recording a fit failed; training goes on"] == [
        r.getMessage() for r in warnings
    ]
    assert [None] == [r.exc_info for r in warnings]
    [debug] = [r for r in internal_log.records if r.levelno == logging.DEBUG and r.exc_info]
    assert "injected runlog bug" in debug.getMessage()


def test_a_model_that_does_not_pickle_is_said_on_its_run_not_in_stderr(
    instrumented: SklearnInstrumentor,
    experiment: runlog.Experiment,
    capfd: pytest.CaptureFixture[str],
) -> None:
    """A lambda inside the model is the user's normal code, not runlog's trouble."""
    from sklearn.preprocessing import FunctionTransformer

    FunctionTransformer(lambda x: x * 2).fit(diabetes()[0])
    run = only_run(experiment, instrumented)
    assert "" == capfd.readouterr().err
    assert [] == run.get_file_names()
    assert run.get_tags()["model_error"].startswith("PicklingError")
