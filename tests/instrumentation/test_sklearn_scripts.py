"""scikit-learn scripts recorded with no logging code: ``autolog()`` and ``runlog run``.

Each script runs as its own process against the real collector; the assertions are on what
the collector stored once the process has exited.
"""

from __future__ import annotations

import itertools
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

import runlog
from runlog import conventions as c

pytest.importorskip("sklearn")
pytestmark = pytest.mark.usefixtures("client_env")

REPO = Path(__file__).resolve().parents[2]
_numbers = itertools.count()


def run_python(args: list[str], collector: Any, experiment: str, cwd: Path) -> str:
    env = {
        **os.environ,
        c.ENV_ENDPOINT: collector.endpoint,
        c.ENV_EXPERIMENT: experiment,
        c.ENV_SPOOL_DIR: str(cwd / "spool"),
        "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])),
    }
    env.pop(c.ENV_RUN_ID, None)
    done = subprocess.run(
        [sys.executable, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=120
    )
    assert 0 == done.returncode, f"{args} failed:\n{done.stdout}\n{done.stderr}"
    return done.stdout


def experiment_named(collector: Any, prefix: str) -> runlog.Experiment:
    name = f"{prefix}-{os.getpid()}-{next(_numbers)}"
    return runlog.Experiment(runlog.Workspace(collector.endpoint), name)


def test_example_sweep_under_autolog(collector: Any, tmp_path: Path) -> None:
    experiment = experiment_named(collector, "autolog-example")
    script = str(REPO / "examples" / "autolog" / "sklearn_sweep.py")
    out = run_python([script], collector, experiment.name, tmp_path)
    assert "best alpha" in out
    runs = {r.get_details()["displayName"]: r for r in experiment.get_runs()}
    ridges = [r for r in experiment.get_runs() if r.get_details()["displayName"] == "Ridge"]
    assert {"0.01", "0.1", "1.0"} == {r.get_params()["alpha"] for r in ridges}
    for ridge in ridges:
        assert "mean_squared_error_X_test" in ridge.get_metrics()
        assert ["model/model.joblib"] == ridge.get_file_names()
        assert "Completed" == ridge.get_status()
    search = runs["GridSearchCV"]
    assert 3 == len(list(search.get_children()))
    assert "cv_results" in search.get_metrics()


def test_fits_land_in_the_launched_run_under_runlog_run(collector: Any, tmp_path: Path) -> None:
    experiment = experiment_named(collector, "runlog-run-sklearn")
    script = tmp_path / "train.py"
    script.write_text(
        textwrap.dedent(
            """
            from sklearn.datasets import load_diabetes
            from sklearn.linear_model import Ridge
            from sklearn.metrics import mean_squared_error

            X, y = load_diabetes(return_X_y=True)
            X_train, X_test, y_train, y_test = X[:350], X[350:], y[:350], y[350:]
            for alpha in (0.1, 1.0):
                model = Ridge(alpha=alpha).fit(X_train, y_train)
            print("mse", mean_squared_error(y_test, model.predict(X_test)))
            """
        )
    )
    cli = ["-m", "runlog.cli", "run", "-e", experiment.name, "--", sys.executable, str(script)]
    out = run_python(cli, collector, experiment.name, tmp_path)
    [run] = list(experiment.get_runs())
    assert "0.1" == run.get_params()["alpha"]  # the first fit, as if there were one model
    children = {child.get_details()["displayName"]: child for child in run.get_children()}
    assert {"Ridge alpha=0.1", "Ridge alpha=1.0"} == set(children)
    second = children["Ridge alpha=1.0"]
    assert "1.0" == second.get_params()["alpha"]
    got = second.get_metrics()
    assert float(out.split()[-1]) == pytest.approx(got["mean_squared_error_X_test"])
    assert ["model/model.joblib"] == second.get_file_names()
    assert "Completed" == run.get_status()
