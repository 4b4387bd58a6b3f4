"""scikit-learn scripts in the gallery's style, unchanged, plainly and under ``runlog run``.

Each runs twice: the exit code, stdout and stderr must be the same, and what the run
recorded is read back from the collector.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest

pytest.importorskip("sklearn")
# Two interpreters each with scikit-learn, one with a collector round trip: allow for
# loaded machines.
pytestmark = [pytest.mark.usefixtures("client_env"), pytest.mark.timeout(400)]

#: The ``run_script`` fixture (tests/realworld/conftest.py); it returns an ``Outcome``.
Run = Callable[..., Any]


def both(run_script: Run, script: str) -> Any:
    """Run *script* plainly and under ``runlog run``; assert the user sees the same."""
    plain = run_script(script, under_runlog=False)
    traced = run_script(script, under_runlog=True)
    assert 0 == plain.returncode, plain.stderr
    assert (plain.returncode, plain.stdout, plain.stderr) == (
        traced.returncode,
        traced.stdout,
        traced.stderr,
    )
    return traced


def only(runs: list[Any]) -> Any:
    assert 1 == len(runs), [r.get_details()["displayName"] for r in runs]
    return runs[0]


def test_grid_search_saved_with_joblib(run_script: Run) -> None:
    traced = both(run_script, "grid_search_joblib.py")
    run = only(traced.runs)
    params = run.get_params()
    assert "precision" == params["scoring"]
    assert "Pipeline" == params["estimator"]
    best = traced.stdout.split("Best parameters:")[1].splitlines()[0]
    assert f"'svc__C': {params['best_svc__C']}" in best
    metrics = run.get_metrics()
    best_score = float(traced.stdout.split("precision: ")[1].split()[0])
    assert best_score == pytest.approx(metrics["best_score"], abs=5e-4)
    assert "cv_results" in metrics
    children = [child.get_details()["displayName"] for child in run.get_children()]
    assert 5 == len(children) and all(name.startswith("candidate_") for name in children)
    assert "model/model.joblib" in run.get_file_names()
    assert "Completed" == run.get_status()


def test_cross_val_score_f1_in_two_workers(run_script: Run) -> None:
    traced = both(run_script, "cross_val_f1.py")
    run = only(traced.runs)
    folds = [float(v) for v in traced.stdout.split("F1 per fold:")[1].splitlines()[0].split()]
    metrics = run.get_metrics()
    assert folds == pytest.approx(metrics["cv_f1"], abs=5e-5)
    mean = float(traced.stdout.split("F1: ")[1].split()[0])
    assert mean == pytest.approx(metrics["cv_f1_mean"], abs=5e-5)
    assert "Pipeline" == run.get_tags()["estimator_name"]
    assert [] == list(run.get_children())  # the folds' fits are not recorded
    assert [] == [name for name in run.get_file_names() if name.startswith("model/")]


def test_ridge_sweep_is_a_child_run_per_alpha(run_script: Run) -> None:
    traced = both(run_script, "ridge_sweep.py")
    run = only(traced.runs)
    children = {child.get_details()["displayName"]: child for child in run.get_children()}
    assert {"Ridge alpha=0.1", "Ridge alpha=1.0", "Ridge alpha=10.0"} == set(children)
    for line in traced.stdout.splitlines()[:3]:
        alpha, mse = line.split()[0].split("=")[1], float(line.split("MSE=")[1])
        child = children[f"Ridge alpha={alpha}"]
        assert alpha == child.get_params()["alpha"]
        assert mse == pytest.approx(child.get_metrics()["mean_squared_error_X_test"], abs=5e-4)
        assert ["model/model.joblib"] == child.get_file_names()
    assert "Completed" == run.get_status()


def test_one_model_keeps_its_params_on_the_run(run_script: Run) -> None:
    traced = both(run_script, "single_model.py")
    run = only(traced.runs)
    assert ("20", "4") == (run.get_params()["n_estimators"], run.get_params()["max_depth"])
    accuracy = float(traced.stdout.split("accuracy: ")[1])
    assert accuracy == pytest.approx(run.get_metrics()["accuracy_score_X_test"], abs=5e-4)
    assert [] == list(run.get_children())
    assert "model/model.joblib" in run.get_file_names()


#: The one traceback entry a wrapped fit adds (its frame cannot be hidden from Python).
_RUNLOG_FRAME = re.compile(
    r'  File "[^"]*/runlog/instrumentation/[^"]*", line \d+, in \w+\n    .*\n( *\^+\n)?'
)


def test_a_failing_fit_fails_alike_and_the_run_error_is_the_users(run_script: Run) -> None:
    plain = run_script("missing_values.py", under_runlog=False)
    traced = run_script("missing_values.py", under_runlog=True)
    assert (1, plain.stdout) == (traced.returncode, traced.stdout)
    assert "ValueError: Input X contains NaN." in plain.stderr
    assert plain.stderr == _RUNLOG_FRAME.sub("", traced.stderr)
    assert "runlog:" not in traced.stderr
    run = only(traced.runs)
    assert "Failed" == run.get_status()
    error = run.get_details()["error"]
    assert error.startswith("the command exited with code 1\nTraceback (most recent call last)")
    assert "ValueError: Input X contains NaN" in error and "runlog:" not in error
