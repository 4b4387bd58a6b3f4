"""Azure ML v1 arguments: a documented one is honoured or warns once, an unknown one raises.

`Run`, `Experiment` and `Workspace` used to swallow any keyword in ``**kwargs``
(``start_logging(tagz=...)`` did nothing); these checks run before any request, so no
collector is needed here. What the arguments do against a collector is in test_run.py.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import pytest

import runlog
from runlog import _kwargs
from runlog.exceptions import IgnoredArgumentWarning, InvalidArgumentError

pytestmark = pytest.mark.usefixtures("client_env")


@pytest.fixture(autouse=True)
def fresh_warnings(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test sees the once-per-process warnings afresh."""
    monkeypatch.setattr(_kwargs, "_warned", set())


@pytest.fixture
def exp() -> runlog.Experiment:
    ws = runlog.Workspace("http://127.0.0.1:9")  # never asked: the checks come first
    return runlog.Experiment(ws, "arguments")


def test_misspelt_keyword_of_start_logging_raises_with_the_nearest_name(
    exp: runlog.Experiment,
) -> None:
    with pytest.raises(TypeError) as caught:
        exp.start_logging(tagz={"a": "1"})

    assert (
        "Experiment.start_logging() got an unexpected keyword argument 'tagz'; did you mean 'tags'?"
    ) == str(caught.value)


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda ws: runlog.Experiment(ws, "x", colour=1), "Experiment() got an unexpected"),
        (lambda ws: runlog.Run(runlog.Experiment(ws, "x"), "r1", colour=1), "Run() got an"),
        (lambda ws: runlog.Run.get_context(colour=1), "Run.get_context() got an unexpected"),
        (lambda ws: runlog.Experiment(ws, "x").submit(None, colour=1), "Experiment.submit()"),
    ],
)
def test_unknown_keywords_raise(call: object, message: str) -> None:
    ws = runlog.Workspace("http://127.0.0.1:9")
    with pytest.raises(TypeError, match=message.replace("(", r"\(").replace(")", r"\)")):
        call(ws)  # type: ignore[operator]  # the table holds lambdas


def test_azure_internal_keyword_warns_once() -> None:
    ws = runlog.Workspace("http://127.0.0.1:9")
    with pytest.warns(IgnoredArgumentWarning, match=r"Experiment\(_id=...\) has no effect"):
        runlog.Experiment(ws, "x", _id="abc")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        runlog.Experiment(ws, "y", _id="def")  # the second time is silent


def test_run_type_is_refused_not_ignored(exp: runlog.Experiment) -> None:
    with pytest.raises(InvalidArgumentError, match="runlog's runs have no run type"):
        exp.get_runs(type="azureml.scriptrun")


def test_from_config_auth_warns(tmp_path: Path) -> None:
    config = tmp_path / ".runlog" / "config.json"
    config.parent.mkdir()
    config.write_text(json.dumps({"endpoint": "http://127.0.0.1:9"}))

    with pytest.warns(IgnoredArgumentWarning, match="auth=...") as caught:
        ws = runlog.Workspace.from_config(tmp_path, auth=object())

    assert 1 == len(caught)
    assert "http://127.0.0.1:9" == ws.endpoint


def test_unknown_view_type_of_list_is_refused() -> None:
    with pytest.raises(InvalidArgumentError, match="view_type 'Active'"):
        runlog.Experiment.list(runlog.Workspace("http://127.0.0.1:9"), view_type="Active")
